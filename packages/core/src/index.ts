export { ConcordError, isConcordError, isRetryable, errorCode } from './errors.js';
export type { ConcordErrorOptions } from './errors.js';
export { silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { backoffDelay } from './backoff.js';
export type { Backoff, Jitter } from './backoff.js';
export { canonicalJson, isPlainObject, utf8ByteLength } from './json.js';
export type { JsonObject, JsonValue } from './json.js';

// Envelope (DESIGN §2)
export { DEFAULT_ENVELOPE_LIMITS } from './envelope/types.js';
export type { EnvelopeLimits, EventEnvelope, EventMetadata } from './envelope/types.js';
export { BatchErrorCode, EventErrorCode } from './envelope/codes.js';
export type { EventProblem } from './envelope/codes.js';
export { eventValidationError, resolveLimits, validateEnvelope } from './envelope/validate.js';
export {
  escapeUnstorable,
  findNonJson,
  findReservedMember,
  findUnstorableText,
  isUnstorableText,
  RESERVED_MEMBER_NAMES,
} from './envelope/json-check.js';
export type { JsonFinding, NonJsonFinding } from './envelope/json-check.js';
export type { EventValidation } from './envelope/validate.js';
export { isCloudEvent, toCloudEvent, validateCloudEvent } from './envelope/cloudevents.js';
export type { CloudEvent, ToCloudEventOptions } from './envelope/cloudevents.js';
export { parseEvent, validateBatch, validateEvent } from './envelope/index.js';
export type { BatchValidation } from './envelope/index.js';

// Versions
export { INITIAL_VERSION, isAggregateVersion, nextVersion } from './versions/sequence.js';
export type { AggregateVersion } from './versions/sequence.js';
export {
  DEFAULT_MAX_VECTOR_ENTRIES,
  compareVectors,
  formatVector,
  incrementVector,
  mergeVectors,
  parseVector,
  pruneVector,
  vectorProblem,
} from './versions/vector.js';
export type { IncrementOptions, PruneOptions, VectorRelation, VersionVector } from './versions/vector.js';
export {
  HlcClock,
  MAX_HLC_LOGICAL,
  compareHlc,
  compareHlcStrings,
  formatHlc,
  isHlcString,
  parseHlc,
  tryParseHlc,
} from './versions/hlc.js';
export type { Hlc, HlcClockOptions, PhysicalClock } from './versions/hlc.js';
export { DEFAULT_MAX_CLOCK_SKEW_MS, acceptEvent } from './versions/accept.js';
export type { AcceptEventOptions, Accepted } from './versions/accept.js';

// Conflict model (DESIGN §3)
export { ClassifyRejectionCode } from './conflict/types.js';
export type {
  AggregateState,
  Classification,
  Conflict,
  ConflictDetails,
  Dot,
  FieldVersion,
  LocalFieldChange,
  VersionRelation,
  WriteProvenance,
} from './conflict/types.js';
export { changedFieldsOf, classify, toConflict } from './conflict/classify.js';
export type { ToConflictOptions } from './conflict/classify.js';
export {
  EMPTY_AGGREGATE,
  applyChanges,
  applyPatch,
  changeSetOf,
  provenanceOf,
  writeOf,
} from './conflict/apply.js';
export type { ApplyOptions, FieldChangeSet } from './conflict/apply.js';

// Specs
export {
  aggregateId,
  aggregateType,
  always,
  and,
  eventType,
  fieldsAllOf,
  fieldsAnyOf,
  metadataEquals,
  metadataIn,
  never,
  not,
  or,
  origin,
  versionRelation,
} from './spec/spec.js';
export type { MaybeSpec, MetadataScalar, Spec } from './spec/spec.js';
export { scalarText } from './spec/side.js';
export type { ConditionSide } from './spec/side.js';
export { compileGlob, compileIdPatterns, PATTERN_LIMITS } from './spec/pattern.js';
export type { IdMatcher } from './spec/pattern.js';

// Strategies (DESIGN §6)
export type {
  FieldChoice,
  FieldSource,
  OptionsContext,
  ResolutionDecision,
  ReviewInfo,
  Strategy,
  StrategyDefinition,
  StrategyResult,
} from './strategy/types.js';
export { BUILTIN_STRATEGIES, StrategyRegistry, createStrategyRegistry } from './strategy/registry.js';
export type { CompileStrategyOptions, StrategyProblem } from './strategy/registry.js';
export {
  additiveField,
  additiveMerge,
  fieldRuleNamed,
  firstWriteWinsField,
  lastWriteWinsField,
  maxField,
  minField,
  normalizeName,
  preferLocalField,
  preferRemoteField,
  sumField,
  unionArrays,
  unionField,
} from './strategy/field-rules.js';
export type { FieldRule } from './strategy/field-rules.js';
export { compareWrites, orderWrites, writeClock } from './strategy/sides.js';
export type { OrderedWrite, WriteClock, WriteOrder, WriteOrderKey } from './strategy/sides.js';
export { keepLocal, resolveFields } from './strategy/resolve.js';
export type { ResolveFieldsOptions } from './strategy/resolve.js';
export { parseDuration } from './strategy/options.js';

// Policy engine and loader (DESIGN §6)
export type {
  ConditionsDoc,
  DecisionVia,
  Explanation,
  GroupDoc,
  PolicyDecision,
  PolicyDocument,
  PolicyProblem,
  ResolutionDoc,
  RuleDoc,
  SkippedEntry,
} from './policy/types.js';
export {
  NoRuleMatchedError,
  compileDocument,
  decide,
  policyHash,
  requireRuleMatch,
} from './policy/compile.js';
export type {
  CompilePolicyOptions,
  CompiledPolicy,
  PolicyResult,
  RequireRuleMatchOptions,
  SpecFactory,
  SpecRegistry,
} from './policy/compile.js';
export { compilePolicy, formatPolicyProblems, loadPolicy, loadPolicyOrThrow } from './policy/loader.js';
export type { LoadPolicyOptions } from './policy/loader.js';
export { createDryRun } from './policy/dry-run.js';
export type { DecisionSummary, DryRun, DryRunChange, DryRunReport, RecordedConflict } from './policy/dry-run.js';
export { normalizeDocument } from './policy/document.js';
export { sha256 } from './policy/sha256.js';

// Decisions
export { createDecisionRecord } from './decision/record.js';
export type { CreateDecisionRecordOptions, DecidedBy, DecisionRecord } from './decision/record.js';
export { creditedWrite, resolutionChanges } from './decision/patch.js';

// Messages between services (DESIGN §4)
export {
  ConsumerGroups,
  OUTCOMES,
  TOPOLOGY,
  Topics,
  consumedTopics,
  fullTopology,
  isFinalOutcome,
  topologyOf,
} from './messages/topics.js';
export type {
  ConsumerGroup,
  Outcome,
  ServiceName,
  Topic,
  TopicDeclaration,
  TopicRoute,
} from './messages/topics.js';
export type {
  AppliedMessage,
  ConcordMessage,
  ConflictDetectedMessage,
  ConflictResolvedMessage,
  OutcomeMessage,
  ProjectedMessage,
  SubmitMessage,
} from './messages/payloads.js';
export {
  CHANGE_ID_SUFFIXES,
  LONGEST_DERIVED_SUFFIX,
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_REOPENS,
  MessageIds,
  ROUND_CHANGE_ID,
  changeEventId,
  derivedMessageIds,
  roundChangeEventId,
} from './messages/ids.js';
export type { ChangeIdSuffix, RoundChange } from './messages/ids.js';
export { MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES, MESSAGE_RESERVE_BYTES } from './messages/limits.js';
