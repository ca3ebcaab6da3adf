/** An outbox row as the relay reads it. */
export interface OutboxRow {
  readonly id: string;
  readonly tx_id: string;
  readonly message_id: string;
  readonly topic: string;
  readonly key: string;
  readonly key_partition: number;
  readonly headers: Record<string, string>;
  readonly payload: Uint8Array;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
  readonly attempts: number;
  /** created_at in epoch ms (database clock). */
  readonly created_ms: number;
}

/** Rows grouped by a property, groups in order of first appearance, rows in order within a group. */
export const groupBy = <T>(items: readonly T[], by: (item: T) => string): Map<string, T[]> => {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = by(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
};
