import { formatHlc } from '@concord/core/versions';
import type { JsonObject } from '@concord/core';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Outcome } from '@concord/core/messages';

/** The end-to-end scenario's events and what it reads back through the public API (DESIGN §5). */

export interface SubmitResult {
  readonly id: string | null;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly originalOutcome?: Outcome;
  readonly error?: { readonly code: string };
}

export interface DecisionView {
  readonly via?: string;
  readonly rule?: string;
  readonly group?: string;
  readonly strategy: string;
  readonly outcome: string;
  readonly fields?: JsonObject;
  readonly rejection?: { readonly code: string };
}

export interface StoredEventView {
  readonly event: EventEnvelope;
  readonly outcome: Outcome;
  readonly version?: number;
  readonly conflictId?: string;
  readonly details: JsonObject & { readonly error?: { readonly code: string } };
  readonly history: readonly { readonly outcome: Outcome }[];
  readonly decision?: DecisionView;
}

export interface FeedPage {
  readonly events: readonly {
    readonly event: EventEnvelope;
    readonly outcome: Outcome;
    readonly version: number;
  }[];
  readonly next: string;
}

export interface AggregateView {
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly fields: JsonObject;
}

export interface ConflictView {
  readonly id: string;
  readonly status: string;
  readonly rule: string | null;
  readonly strategy: string | null;
  readonly version: number | null;
  readonly review: { readonly dueAt: string | null; readonly provisional: boolean } | null;
  /** Ledger entries; `round` counts the reopens before it, a reopen's entry says what it reversed. */
  readonly decisions: readonly {
    readonly outcome: string;
    readonly final: boolean;
    readonly decidedBy: string;
    readonly round: number;
    readonly reopen?: JsonObject;
  }[];
}

/** An entry of `GET /v1/aggregates/:type/:id/history`. */
export interface HistoryEntry {
  readonly id: string;
  readonly type: string;
  readonly outcome: Outcome;
  readonly version: number | null;
  readonly decisions: readonly JsonObject[];
}

export interface NotificationBody {
  readonly id: string;
  readonly kind: string;
  readonly messageId: string;
  readonly eventId?: string;
}

export interface ScenarioReport {
  readonly events: number;
  readonly notifications: number;
  readonly webhookDeliveries: number;
}

/** Writers per contested aggregate: three waves of three. */
export const WRITERS = 9;
export const WAVES = 3;
export const WALL = 1_760_000_000_000;
export const STATUSES = ['pending', 'paid', 'shipped', 'delivered'] as const;
/** The status writer k sets: a mix of forward and backward moves; `delivered` is among them. */
export const statusOf = (k: number): string => ['paid', 'shipped', 'pending', 'delivered'][k % 4] ?? 'paid';

export const envelope = (
  id: string,
  type: string,
  aggregate: string,
  data: JsonObject,
  extra: Partial<EventEnvelope> = {},
): EventEnvelope => {
  const [aggregateType = '', aggregateId = ''] = aggregate.split('/');
  return { id, type, aggregateType, aggregateId, data, metadata: { source: 'e2e' }, ...extra };
};

/** The contested aggregates: every writer k of a wave bases its change on version 1. */
export const writer = (k: number): EventEnvelope[] => [
  envelope(`tm-${k}`, 'TaskUpdated', 'task/task-merge', { [`f${k}`]: k }, { baseVersion: 1 }),
  envelope(`tt-${k}`, 'TaskTagged', 'task/task-tags', { tags: [`t${k}`] }, { baseVersion: 1 }),
  envelope(
    `tl-${k}`,
    'TaskRenamed',
    'task/task-title',
    { title: `title-${k}` },
    // Later writers carry later HLC stamps, so last_write_wins must end on title-9 whatever the arrival order.
    { baseVersion: 1, hlc: formatHlc({ wall: WALL + k * 1_000, logical: 0, node: `w${k}` }) },
  ),
  envelope(
    `os-${k}`,
    'OrderStatusChanged',
    'order/order-status',
    { status: statusOf(k) },
    { baseVersion: 1 },
  ),
  envelope(`n-${k}`, 'NoteTagged', 'note/note-1', { tags: [`n${k}`] }, { baseVersion: 1 }),
];

export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const countBy = (values: readonly string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
};
