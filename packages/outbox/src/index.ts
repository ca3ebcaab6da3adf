export { pgDatabase } from './db/pg.js';
export type { PgDatabaseOptions } from './db/pg.js';
export { pgliteDatabase } from './db/pglite.js';
export type { PgliteDatabaseOptions } from './db/pglite.js';
export type { Database, ListenOptions, QueryOptions, QueryResult, Sql, Tx, Unlisten } from './db/types.js';
export { DEFAULT_SCHEMA, outboxChannel, quoteSchema } from './db/ident.js';
export { SqlFragment, cast, epochMs, insertRow, jsonb, raw, statement } from './db/statement.js';
export type { Statement } from './db/statement.js';
export { tenantKey, tenantKeyText } from './db/tenant.js';
export type { TenantScope } from './db/tenant.js';
export { outboxErrors } from './errors.js';
export { baseMigrations, loadMigrationSet, outboxMigrations, storeMigrations } from './migrate/files.js';
export type { Migration, MigrationSet, MigrationSource, SqlFunction } from './migrate/files.js';
export { findMigrationSources } from './migrate/discover.js';
export { migrate } from './migrate/runner.js';
export type { MigrateOptions, MigrateResult } from './migrate/runner.js';
export { createOutbox } from './outbox/writer.js';
export type { Outbox, OutboxMessage, OutboxOptions } from './outbox/writer.js';
export { createRelay } from './relay/relay.js';
export type { Relay, RelayOptions, RelayStats } from './relay/types.js';
export type { RelayCounters, RelayEvent, RelayObserver } from './relay/stats.js';
export type { BackoffOptions } from './relay/backoff.js';
export { createInbox } from './inbox.js';
export type { Inbox, InboxOptions, InboxPruneOptions, InboxResult } from './inbox.js';
export { createEventStore } from './store/store.js';
export type { AppendOptions, EventStore, EventStoreOptions, RecordOutcomeOptions } from './store/store.js';
export { defaultMessages } from './store/messages.js';
export type {
  AppendResult,
  AppendedEvent,
  FeedEvent,
  FeedPage,
  MessageProducer,
  StoredEvent,
} from './store/types.js';
export { createResolutionStore } from './store/resolution.js';
export type {
  AppliedResolution,
  ApplyResolutionOptions,
  ResolutionStore,
  ResolutionStoreOptions,
} from './store/resolution.js';
export { createRejectionStore } from './store/rejections.js';
export type { Rejection, RejectionStore, RejectionStoreOptions } from './store/rejections.js';
export type { HistoryEvent, HistoryOptions, HistoryOutcome, HistoryPage } from './store/history.js';
export { readFeedTail } from './store/feed-tail.js';
export type { FeedTailOptions } from './store/feed-tail.js';
export { createOutboxDeadLetterStore } from './dead-letters/outbox.js';
export type { OutboxDeadLetter, OutboxDeadLetterStore } from './dead-letters/outbox.js';
export { createBusDeadLetterStore } from './dead-letters/bus.js';
export type { BusDeadLetter, BusDeadLetterStore, NewBusDeadLetter } from './dead-letters/bus.js';
export type {
  DeadLetterFilter,
  DeadLetterListOptions,
  DeadLetterPage,
  ReplayByIdResult,
  ReplayMatchingResult,
} from './dead-letters/common.js';
