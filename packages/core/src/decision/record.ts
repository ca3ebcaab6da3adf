import type { Conflict } from '../conflict/types.js';
import type { JsonValue } from '../json.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { DecisionVia, PolicyDecision, SkippedEntry } from '../policy/types.js';
import type { FieldChoice, ResolutionDecision, ReviewInfo } from '../strategy/types.js';
import type { PhysicalClock } from '../versions/hlc.js';

/** Who made a decision: the policy, or a person through `POST /v1/conflicts/:id/decision`. */
export type DecidedBy =
  { readonly kind: 'policy' } | { readonly kind: 'human'; readonly userId: string; readonly note?: string };

/**
 * Everything a resolution-ledger row needs: which conflict and events, which policy (name, version,
 * hash) and rule/group/strategy decided, per-field outcome and reasons, provisional or final, and
 * timestamps from the injected clock.
 */
export interface DecisionRecord {
  readonly conflictId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The incoming event. */
  readonly eventId: string;
  /** The events whose changes the incoming event conflicted with (from the local field versions). */
  readonly conflictingEventIds: readonly string[];
  readonly policy: { readonly name: string; readonly version: string; readonly hash: string };
  readonly via: DecisionVia;
  readonly rule?: string;
  readonly group?: string;
  readonly strategy: string;
  readonly outcome: ResolutionDecision;
  /** True while the values are provisional (pending review); false once final. */
  readonly provisional: boolean;
  readonly final: boolean;
  /** Resolved value per overlapping field. */
  readonly fields: Readonly<Record<string, JsonValue | undefined>>;
  readonly choices: readonly FieldChoice[];
  readonly reasons: readonly string[];
  readonly conditions: readonly string[];
  readonly skipped: readonly SkippedEntry[];
  readonly review?: ReviewInfo & {
    /** When the review times out (ms since epoch), from `decidedAt + timeoutMs`. */
    readonly dueAt?: number;
  };
  readonly rejection?: { readonly code: string; readonly reason: string };
  readonly decidedBy: DecidedBy;
  /** Milliseconds since the epoch, from the injected clock. */
  readonly decidedAt: number;
  /** The same instant as an ISO-8601 string. */
  readonly decidedAtIso: string;
}

/** Options for `createDecisionRecord`. */
export interface CreateDecisionRecordOptions {
  readonly conflict: Conflict;
  readonly decision: PolicyDecision;
  readonly policy: Pick<CompiledPolicy, 'name' | 'version' | 'hash'>;
  readonly clock: PhysicalClock;
  /** Default: the policy. */
  readonly decidedBy?: DecidedBy;
}

/** Build the ledger row for a decision. Pure apart from reading the injected clock once. */
export const createDecisionRecord = (options: CreateDecisionRecordOptions): DecisionRecord => {
  const { conflict, decision, policy } = options;
  const decidedAt = options.clock.now();
  const result = decision.result;
  const pending = result.decision === 'pending_review';
  const conflicting = new Set<string>();
  for (const field of conflict.overlappingFields) {
    const id = conflict.local[field]?.eventId;
    if (id !== undefined) conflicting.add(id);
  }
  const review = result.review;
  return {
    conflictId: conflict.id,
    aggregateType: conflict.event.aggregateType,
    aggregateId: conflict.event.aggregateId,
    eventId: conflict.event.id,
    conflictingEventIds: [...conflicting].sort(),
    policy: { name: policy.name, version: policy.version, hash: policy.hash },
    via: decision.via,
    ...(decision.rule === undefined ? {} : { rule: decision.rule }),
    ...(decision.group === undefined ? {} : { group: decision.group }),
    strategy: decision.strategy,
    outcome: result.decision,
    provisional: pending && review?.provisionalStrategy !== undefined,
    final: !pending,
    fields: result.fields,
    choices: result.choices,
    reasons: decision.reason === undefined ? result.reasons : [decision.reason, ...result.reasons],
    conditions: decision.explanation.conditions,
    skipped: decision.explanation.skipped,
    ...(review === undefined
      ? {}
      : {
          review:
            review.timeoutMs === undefined ? review : { ...review, dueAt: decidedAt + review.timeoutMs },
        }),
    ...(result.rejection === undefined ? {} : { rejection: result.rejection }),
    decidedBy: options.decidedBy ?? { kind: 'policy' },
    decidedAt,
    decidedAtIso: new Date(decidedAt).toISOString(),
  };
};
