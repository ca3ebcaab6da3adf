/** Messages between services (DESIGN §4): topics, topology, payloads, derived ids, size limits. */
export {
  OUTCOMES,
  TOPOLOGY,
  Topics,
  consumedTopics,
  fullTopology,
  isFinalOutcome,
  topologyOf,
} from './messages/topics.js';
export type { Outcome, ServiceName } from './messages/topics.js';
export type {
  AppliedMessage,
  ConflictDetectedMessage,
  ConflictResolvedMessage,
  OutcomeMessage,
  ProjectedMessage,
} from './messages/payloads.js';
export {
  CHANGE_ID_SUFFIXES,
  LONGEST_DERIVED_SUFFIX,
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_REOPENS,
  MessageIds,
  changeEventId,
  derivedMessageIds,
  roundChangeEventId,
} from './messages/ids.js';
export type { ChangeIdSuffix } from './messages/ids.js';
export { MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES } from './messages/limits.js';
