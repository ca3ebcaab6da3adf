/**
 * How large a message between services may be (DESIGN §2, §4), in one place: the bus refuses larger
 * ones, and whoever derives a message from an accepted input (an event, an aggregate's state, a decision)
 * makes sure it fits before committing it, so nothing accepted is dead-lettered for its size later.
 */

/**
 * Default largest message the bus publishes: payload, key, id and headers together (`messageSize`),
 * below Kafka's default 1 MiB (`message.max.bytes`) with room for the record's framing.
 */
export const MAX_MESSAGE_BYTES = 1_000_000;

/**
 * What a message holds besides its payload, at most: the key and id (ids ≤ 294 characters, ≤ 3 UTF-8
 * bytes each), the correlation, causation and trace headers, and the headers a dead letter adds (error
 * code, a reason of ≤ 1,000 characters, attempts, topic, group). 16 KiB bounds them with room to spare.
 */
export const MESSAGE_RESERVE_BYTES = 16 * 1024;

/**
 * Largest payload of a message Concord derives (applied, conflict, resolved, outcome): 983,616 bytes.
 * A projected message holds less than the applied message it projects (the state's fields without the
 * changes, field versions, vector and commit time), so it fits too.
 */
export const MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES - MESSAGE_RESERVE_BYTES;
