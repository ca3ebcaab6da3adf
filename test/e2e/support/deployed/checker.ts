import type { JsonObject } from '@concord/core';
import type { Outcome } from '@concord/core/messages';
import { getJson, getOptional } from '../http.js';
import type {
  AggregateView,
  ConflictView,
  FeedPage,
  NotificationBody,
  StoredEventView,
} from '../scenario-events.js';
import { SseClient } from '../sse-client.js';
import type { WebhookReceiver } from '../webhook-receiver.js';
import type { AcceptedEvent } from './submitter.js';

/*
 * What a deployment did with the events it accepted, read only through public contracts (DESIGN §5):
 * `GET /v1/events/:id`, the feed `GET /v1/events?after=`, `GET /v1/conflicts/:id`,
 * `GET /v1/aggregates/:type/:id`, the notification log replayed by `GET /v1/stream` and the webhook
 * deliveries a receiver got. Nothing is read from the database or the brokers.
 */

type FeedRow = FeedPage['events'][number];

/** DESIGN §3: `conflict` and `pending_review` are intermediate; every other outcome is final. */
const isFinal = (outcome: Outcome) => outcome !== 'conflict' && outcome !== 'pending_review';

/** An aggregate as the feed says it is: its last version, and its events' data folded (DESIGN §2: patches). */
interface Folded {
  readonly version: number;
  readonly fields: JsonObject;
}

export interface Urls {
  readonly ingest: () => string;
  readonly resolver: () => string;
  readonly projector: () => string;
  readonly notifier: () => string;
}

/** Counts that must all be 0, with up to five examples of each that is not. */
export interface CheckReport {
  readonly accepted: number;
  /** Accepted events that are gone (404), or applied/merged but not in the feed, and feed version gaps. */
  readonly lost: number;
  /** Accepted events still `conflict`/`pending_review` at the deadline. */
  readonly withoutFinalOutcome: number;
  /** Aggregates whose projection is behind the feed or differs from the feed's fold. */
  readonly unprojected: number;
  /** A version (or an event) twice in the feed; a conflict with more than one final decision. */
  readonly appliedTwice: number;
  /** One notification delivered under two delivery ids. */
  readonly deliveredTwice: number;
  /** Notifications the outcomes, decisions and feed imply that no webhook delivered. */
  readonly notificationsMissing: number;
  /** Per aggregate, a version lower than the one before: in the feed, in the notification log. */
  readonly reorders: { readonly feed: number; readonly notifications: number };
  /** Not asserted: notifications delivered that nothing implies (for the reader of a failure). */
  readonly unexpectedNotifications: number;
  readonly webhookDeliveries: number;
  /** How long each part of the check took (waiting for convergence included), in ms. */
  readonly phasesMs: Readonly<Record<string, number>>;
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items`, `width` at a time. */
const pooled = async <T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> => {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
    }),
  );
  return results;
};

/** Retries a read that may meet an instance on its way down or a database restart. */
const read = async <T>(probe: () => Promise<T>): Promise<T> => {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await probe();
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(250);
    }
  }
};

const aggregateOf = (row: FeedRow) => `${row.event.aggregateType}/${row.event.aggregateId}`;

const readFeed = async (urls: Urls): Promise<FeedRow[]> => {
  const feed: FeedRow[] = [];
  let after = '';
  for (;;) {
    const page = await read(() =>
      getJson<FeedPage>(`${urls.ingest()}/v1/events?limit=1000${after === '' ? '' : `&after=${after}`}`),
    );
    if (page.events.length === 0) return feed;
    feed.push(...page.events);
    after = page.next;
  }
};

/** Backward steps in each key's sequence of versions, in the order given. */
const backwardSteps = (
  entries: readonly { key: string; version: number; what: string }[],
  examples: string[],
) => {
  const last = new Map<string, number>();
  let count = 0;
  for (const { key, version, what } of entries) {
    const before = last.get(key);
    if (before !== undefined && version < before) {
      count += 1;
      examples.push(`${key}: ${what} v${version} after v${before}`);
    }
    last.set(key, Math.max(before ?? 0, version));
  }
  return count;
};

export interface CheckOptions {
  readonly urls: Urls;
  readonly accepted: ReadonlyMap<string, AcceptedEvent>;
  readonly receiver?: WebhookReceiver;
  /** Which aggregates (`type/id`) the webhook subscription covers (it was made before any of their events). */
  readonly subscribed?: (aggregate: string) => boolean;
  /** When waiting for the deployment to converge stops and the counts are taken as they are. */
  readonly deadline: number;
}

/** Waits (until the deadline) for the deployment to converge, then counts what it did wrong. */
export const check = async (options: CheckOptions): Promise<CheckReport> => {
  const { urls, accepted, deadline } = options;
  const examples: Record<string, string[]> = {};
  const example = (name: string) => (examples[name] ??= []);
  const phasesMs: Record<string, number> = {};
  let phaseBegan = Date.now();
  const phase = (name: string) => {
    phasesMs[name] = Date.now() - phaseBegan;
    phaseBegan = Date.now();
  };

  // 1. Every accepted event's outcome, until each is final (or the deadline).
  const views = new Map<string, StoredEventView | undefined>();
  let open = [...accepted.keys()];
  for (;;) {
    const seen = await pooled(open, 16, (id) =>
      read(() => getOptional<StoredEventView>(`${urls.ingest()}/v1/events/${encodeURIComponent(id)}`)),
    );
    open.forEach((id, i) => views.set(id, seen[i]));
    open = open.filter((id) => {
      const view = views.get(id);
      return view === undefined || !isFinal(view.outcome);
    });
    if (open.length === 0 || Date.now() > deadline) break;
    await sleep(1_000);
  }
  const gone = [...accepted.keys()].filter((id) => views.get(id) === undefined);
  const notFinal = open.filter((id) => views.get(id) !== undefined);
  example('lost').push(...gone.map((id) => `${id}: 404`));
  example('withoutFinalOutcome').push(...notFinal.map((id) => `${id}: ${views.get(id)?.outcome}`));

  phase('outcomes');

  // 2. The feed, until every applied or merged event is in it and every projection caught up.
  let feed: FeedRow[] = [];
  let missingFromFeed: string[] = [];
  let behind: string[] = [];
  let states = new Map<string, Folded>();
  for (;;) {
    feed = await readFeed(urls);
    const inFeed = new Set(feed.map((row) => row.event.id));
    missingFromFeed = [...views]
      .filter(([id, view]) => (view?.outcome === 'applied' || view?.outcome === 'merged') && !inFeed.has(id))
      .map(([id]) => id);
    states = new Map();
    for (const row of [...feed].sort((a, b) => a.version - b.version)) {
      const key = aggregateOf(row);
      states.set(key, { version: row.version, fields: { ...states.get(key)?.fields, ...row.event.data } });
    }
    const keys = [...states.keys()];
    const projections = await pooled(keys, 16, (key) =>
      read(() => getOptional<AggregateView>(`${urls.projector()}/v1/aggregates/${key}`)),
    );
    behind = keys.flatMap((key, i) => {
      const state = states.get(key);
      const projection = projections[i];
      if (projection === undefined) return [`${key}: not projected (feed at v${state?.version})`];
      if (projection.version !== state?.version)
        return [`${key}: projected v${projection.version}, feed v${state?.version}`];
      return JSON.stringify(sorted(projection.fields)) === JSON.stringify(sorted(state.fields))
        ? []
        : [`${key}: projection differs from the feed's fold at v${state.version}`];
    });
    if ((missingFromFeed.length === 0 && behind.length === 0) || Date.now() > deadline) break;
    await sleep(1_000);
  }
  example('lost').push(...missingFromFeed.map((id) => `${id}: ${views.get(id)?.outcome}, not in the feed`));
  example('unprojected').push(...behind);

  // Feed: a version twice, an event twice, a gap, a version lower than the one before it.
  const versions = new Map<string, number[]>();
  for (const row of feed)
    versions.set(aggregateOf(row), [...(versions.get(aggregateOf(row)) ?? []), row.version]);
  let twice = 0;
  let gaps = 0;
  for (const [key, list] of versions) {
    const distinct = new Set(list);
    twice += list.length - distinct.size;
    if (list.length > distinct.size) example('appliedTwice').push(`${key}: a version twice in the feed`);
    const max = Math.max(...list);
    const missing = max - distinct.size;
    gaps += missing;
    if (missing > 0) example('lost').push(`${key}: ${missing} of versions 1..${max} not in the feed`);
  }
  const feedIds = feed.map((row) => row.event.id);
  twice += feedIds.length - new Set(feedIds).size;
  const feedReorders = backwardSteps(
    feed.map((row) => ({ key: aggregateOf(row), version: row.version, what: row.event.id })),
    example('feedReorders'),
  );

  phase('feedAndProjections');

  // 3. Conflicts: exactly one final decision each.
  const conflictIds = [...new Set([...views.values()].flatMap((view) => view?.conflictId ?? []))];
  const conflicts = await pooled(conflictIds, 16, (id) =>
    read(() => getOptional<ConflictView>(`${urls.resolver()}/v1/conflicts/${encodeURIComponent(id)}`)),
  );
  conflicts.forEach((conflict, i) => {
    const finals = conflict?.decisions.filter((d) => d.final).length ?? 0;
    if (finals > 1) {
      twice += finals - 1;
      example('appliedTwice').push(`conflict ${conflictIds[i]}: ${finals} final decisions`);
    }
  });

  phase('conflicts');

  // 4. Notifications: what the feed, outcomes and decisions imply, for the subscribed aggregates.
  const subscribed = options.subscribed ?? (() => false);
  const expected = new Set<string>();
  for (const row of feed) {
    if (!subscribed(aggregateOf(row))) continue;
    expected.add(`${row.event.id}:applied`);
    expected.add(`${row.event.id}:applied:projected`);
  }
  for (const [id, view] of views) {
    if (view === undefined || !subscribed(`${view.event.aggregateType}/${view.event.aggregateId}`)) continue;
    for (const o of [...view.history.map((h) => h.outcome), view.outcome]) expected.add(`${id}:outcome:${o}`);
  }
  conflicts.forEach((conflict, i) => {
    const view = views.get(conflictIds[i] ?? '');
    if (conflict === undefined || view === undefined) return;
    if (!subscribed(`${view.event.aggregateType}/${view.event.aggregateId}`)) return;
    for (const d of conflict.decisions) expected.add(`${conflict.id}:${d.outcome}`);
  });
  const receiver = options.receiver;
  const delivered = () => new Set(receiver?.received.map((r) => (r.body as NotificationBody).messageId));
  while (
    receiver !== undefined &&
    [...expected].some((id) => !delivered().has(id)) &&
    Date.now() < deadline
  ) {
    await sleep(500);
  }
  const got = delivered();
  const notificationsMissing = [...expected].filter((id) => !got.has(id));
  example('notificationsMissing').push(...notificationsMissing);
  const unexpected = [...got].filter((id) => !expected.has(id));
  example('unexpectedNotifications').push(...unexpected);
  const deliveryIds = new Map<string, Set<string>>();
  for (const r of receiver?.received ?? []) {
    const { messageId } = r.body as NotificationBody;
    deliveryIds.set(messageId, (deliveryIds.get(messageId) ?? new Set()).add(r.deliveryId));
  }
  const deliveredTwice = [...deliveryIds].filter(([, ids]) => ids.size > 1);
  example('deliveredTwice').push(...deliveredTwice.map(([id, ids]) => `${id}: ${[...ids].join(', ')}`));

  phase('webhooks');

  // 5. Per-key order in the notification log (commit order, as `GET /v1/stream` replays it).
  const notificationReorders =
    receiver === undefined ? 0 : await logReorders(urls, got.size, example('notificationReorders'));

  phase('notificationLog');
  const report: CheckReport = {
    accepted: accepted.size,
    lost: gone.length + missingFromFeed.length + gaps,
    withoutFinalOutcome: notFinal.length,
    unprojected: behind.length,
    appliedTwice: twice,
    deliveredTwice: deliveredTwice.length,
    notificationsMissing: notificationsMissing.length,
    reorders: { feed: feedReorders, notifications: notificationReorders },
    unexpectedNotifications: unexpected.length,
    webhookDeliveries: receiver?.received.length ?? 0,
    phasesMs,
    examples: Object.fromEntries(
      Object.entries(examples)
        .filter(([, list]) => list.length > 0)
        .map(([name, list]) => [name, list.slice(0, 5)]),
    ),
  };
  return report;
};

/** Object with its keys sorted, for a comparison that ignores member order. */
const sorted = (value: Readonly<Record<string, unknown>>) =>
  Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));

/**
 * Replays the notifier's log from the start and counts, per aggregate and kind (`applied`,
 * `projected`), versions lower than one logged before. A consumer that keeps per-key order handles a
 * key's next message only after the one before committed, so its notification is in a later
 * transaction, later in the log's (transaction id, id) order.
 */
const logReorders = async (urls: Urls, atLeast: number, examples: string[]): Promise<number> => {
  const stream = new SseClient(`${urls.notifier()}/v1/stream`);
  await stream.connect('0');
  try {
    let seen = -1;
    for (let quiet = 0; quiet < 4 && !(stream.events.length >= atLeast && quiet >= 1);) {
      await sleep(500);
      quiet = stream.events.length === seen ? quiet + 1 : 0;
      seen = stream.events.length;
    }
  } finally {
    await stream.disconnect();
  }
  const entries = stream.events.flatMap((e) => {
    const n = e.data as NotificationBody & {
      aggregateType?: string;
      aggregateId?: string;
      data?: { version?: unknown };
    };
    const version = n.data?.version;
    if ((n.kind !== 'applied' && n.kind !== 'projected') || typeof version !== 'number') return [];
    return [{ key: `${n.kind} ${n.aggregateType}/${n.aggregateId}`, version, what: n.messageId }];
  });
  return backwardSteps(entries, examples);
};
