import { applyPatch, formatHlc, isFinalOutcome } from '@concord/core';
import type { AggregateState, EventEnvelope, JsonValue } from '@concord/core';
import { expect } from 'vitest';
import { getJson, getOptional, postJson } from './http.js';
import { eventually } from './processes.js';
import { SseClient } from './sse-client.js';
import type { Stack } from './stack.js';
import { WebhookReceiver } from './webhook-receiver.js';
import { STATUSES, WALL, WAVES, WRITERS, countBy, envelope, range, writer } from './scenario-events.js';
import type {
  AggregateView,
  ConflictView,
  FeedPage,
  NotificationBody,
  ScenarioReport,
  StoredEventView,
  SubmitResult,
} from './scenario-events.js';

export type { ScenarioReport } from './scenario-events.js';

/**
 * The end-to-end scenario (issue 5): concurrent writers on shared aggregates through HTTP and the broker
 * intake, consumers crashed and restarted mid-stream, a manual review decided over HTTP, duplicates and
 * invalid events — then every outcome, projection, webhook delivery and stream notification checked
 * against what the scenario policy implies.
 */
export async function runScenario(stack: Stack): Promise<ScenarioReport> {
  const { urls } = stack;
  const brokerIntake = stack.submit;
  const submitted = new Set<string>();

  const post = async (events: readonly unknown[]): Promise<SubmitResult[]> => {
    const { results } = await postJson<{ results: SubmitResult[] }>(`${urls.ingest}/v1/events`, { events });
    for (const r of results) if (r.id !== null) submitted.add(r.id);
    return results;
  };
  const postOne = async (event: unknown): Promise<SubmitResult> => {
    const [result] = await post([event]);
    if (result === undefined) throw new Error('no result');
    return result;
  };
  /** Writers whose number is a multiple of three go through `concord.events.submit` when there is a broker. */
  const submitWriter = async (k: number, event: EventEnvelope): Promise<void> => {
    submitted.add(event.id);
    if (brokerIntake !== undefined && k % 3 === 0) {
      await brokerIntake([{ id: `submit:${event.id}`, key: event.aggregateId, event }]);
    } else {
      await postOne(event);
    }
  };
  const eventView = (id: string) =>
    getJson<StoredEventView>(`${urls.ingest}/v1/events/${encodeURIComponent(id)}`);
  const finalOutcome = (id: string, timeoutMs = 60_000) =>
    eventually(
      async () => {
        const view = await getOptional<StoredEventView>(`${urls.ingest}/v1/events/${encodeURIComponent(id)}`);
        return view !== undefined && isFinalOutcome(view.outcome) ? view : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `a final outcome of ${id}` },
    );

  // Subscribers first: a webhook for everything, and a stream starting at the present.
  const receiver = new WebhookReceiver(`e2e-secret-${stack.run}`);
  await receiver.start();
  const sse = new SseClient(`${urls.notifier}/v1/stream`);
  try {
    await postJson(`${urls.notifier}/v1/subscriptions`, { url: receiver.url, secret: receiver.secret });
    await sse.connect();

    // 1. Every aggregate's first version, in one batch.
    const initial = await post([
      envelope('tm-0', 'TaskCreated', 'task/task-merge', { title: 'merge me' }),
      envelope('tt-0', 'TaskCreated', 'task/task-tags', { tags: ['initial'] }),
      envelope(
        'tl-0',
        'TaskCreated',
        'task/task-title',
        { title: 'title-0' },
        { hlc: formatHlc({ wall: WALL, logical: 0, node: 'w0' }) },
      ),
      envelope('os-0', 'OrderCreated', 'order/order-status', { status: 'pending' }),
      envelope('n-0', 'NoteCreated', 'note/note-1', { title: 'note', tags: ['initial'] }),
      envelope('op-0', 'OrderCreated', 'order/order-pay', {
        status: 'pending',
        amount: 100,
        currency: 'EUR',
      }),
      envelope('lk-0', 'TaskCreated', 'task/task-locked', { locked: false }),
      envelope('vv-1', 'DocEdited', 'doc/doc-vv', { title: 'a1' }, { origin: 'a', clock: { a: 1 } }),
    ]);
    expect(initial.map((r) => [r.id, r.outcome, r.version])).toEqual(
      ['tm-0', 'tt-0', 'tl-0', 'os-0', 'n-0', 'op-0', 'lk-0', 'vv-1'].map((id) => [id, 'applied', 1]),
    );

    // 2. Sequential changes whose outcomes the scenario pins down exactly.
    expect(
      await postOne(
        envelope('vv-2', 'DocEdited', 'doc/doc-vv', { body: 'b1' }, { origin: 'b', clock: { a: 1, b: 1 } }),
      ),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    expect(
      await postOne(envelope('op-1', 'OrderUpdated', 'order/order-pay', { amount: 120 }, { baseVersion: 1 })),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    expect(
      await postOne(envelope('op-2', 'OrderUpdated', 'order/order-pay', { amount: 150 }, { baseVersion: 1 })),
    ).toMatchObject({ outcome: 'conflict', version: 2, conflictId: 'op-2' });
    expect(
      await postOne(envelope('lk-1', 'TaskLocked', 'task/task-locked', { locked: true }, { baseVersion: 1 })),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    const rejected = await post([
      { id: 'bad-1', aggregateType: 'task', aggregateId: 'task-merge', data: { title: 'no type' } },
      envelope('bad-2', 'TaskUpdated', 'task/task-merge', { title: 'from the future' }, { baseVersion: 99 }),
    ]);
    expect(rejected).toMatchObject([
      { id: 'bad-1', outcome: 'rejected', error: { code: 'CONCORD_EVENT_MISSING_FIELD' } },
      { id: 'bad-2', outcome: 'rejected', error: { code: 'CONCORD_CONFLICT_BASE_VERSION_AHEAD' } },
    ]);
    const badData = {
      id: 'bad-3',
      type: 'TaskUpdated',
      aggregateType: 'task',
      aggregateId: 'task-merge',
      data: 'x',
    };
    submitted.add('bad-3');
    if (brokerIntake !== undefined)
      await brokerIntake([{ id: 'submit:bad-3', key: 'task-merge', event: badData }]);
    else await post([badData]);

    // 3. Three waves of concurrent writers; the projector dies during the first, the resolver during the third.
    const extras: Record<number, EventEnvelope[]> = {
      1: [
        // Dominated clocks: superseded, whatever else happens.
        envelope('vv-s1', 'DocEdited', 'doc/doc-vv', { title: 'stale' }, { origin: 'a', clock: { a: 1 } }),
        envelope('vv-s2', 'DocEdited', 'doc/doc-vv', { body: 'stale' }, { origin: 'b', clock: { b: 1 } }),
      ],
      2: [
        // Concurrent clock, disjoint field: merged.
        envelope(
          'vv-c1',
          'DocEdited',
          'doc/doc-vv',
          { summary: 'c1' },
          { origin: 'c', clock: { a: 1, c: 1 } },
        ),
        // Overlaps the lock set by lk-1: the policy rejects it.
        envelope('lk-2', 'TaskLocked', 'task/task-locked', { locked: 'maybe' }, { baseVersion: 1 }),
      ],
    };
    const wave = (w: number): Promise<unknown> => {
      const ks = range(w * (WRITERS / WAVES) + 1, (w + 1) * (WRITERS / WAVES));
      return Promise.all([
        ...ks.flatMap((k) => writer(k).map((event) => submitWriter(k, event))),
        ...(extras[w] ?? []).map((event) => postOne(event)),
      ]);
    };

    // The stream drops after the second wave and resumes after the third. It must have received something
    // first: a client that saw nothing has no Last-Event-ID and resumes at the present (a fresh or just
    // restarted Kafka can hold the first publishes back for seconds while its coordinators load).
    const dropStream = async () => {
      await eventually(() => (sse.events.length > 0 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'a first stream notification before the stream drops',
      });
      await sse.disconnect();
    };
    const crash = stack.crash;
    if (crash !== undefined) {
      const [, restartProjector] = await Promise.all([wave(0), crash('projector')]);
      await wave(1);
      await dropStream();
      await restartProjector();
      const [, restartResolver] = await Promise.all([wave(2), crash('resolver')]);
      await restartResolver();
    } else {
      await wave(0);
      await wave(1);
      await dropStream();
      await wave(2);
    }
    const seenBeforeDisconnect = sse.events.length;
    await sse.connect();

    // 4. The manual review: pending with the provisional (first write's) value, then decided over HTTP.
    const pending = await eventually(
      async () => {
        const { conflicts } = await getJson<{ conflicts: ConflictView[] }>(
          `${urls.resolver}/v1/conflicts?status=pending_review`,
        );
        return conflicts.find((c) => c.id === 'op-2');
      },
      { timeoutMs: 60_000, what: 'op-2 to wait for review' },
    );
    expect(pending).toMatchObject({
      status: 'pending_review',
      rule: 'payment-needs-review',
      strategy: 'manual_review',
    });
    expect((await eventView('op-2')).outcome).toBe('pending_review');
    const decided = await postJson<ConflictView>(`${urls.resolver}/v1/conflicts/op-2/decision`, {
      fields: { amount: { value: 135 } },
      userId: 'e2e-reviewer',
    });
    expect(decided.status).toBe('resolved');

    // 5. Every event reaches exactly one final outcome.
    const views = new Map<string, StoredEventView>();
    await Promise.all(
      [...submitted].map(async (id) => {
        views.set(id, await finalOutcome(id));
      }),
    );
    const outcome = (id: string) => views.get(id)?.outcome;

    for (const [prefix, expected] of [
      ['tm', { applied: 1, merged: WRITERS - 1 }],
      ['tt', { applied: 1, resolved: WRITERS - 1 }],
      ['tl', { applied: 1, resolved: WRITERS - 1 }],
      ['os', { applied: 1, resolved: WRITERS - 1 }],
      ['n', { applied: 1, resolved: WRITERS - 1 }],
    ] as const) {
      const outcomes = range(1, WRITERS).map((k) => outcome(`${prefix}-${k}`) ?? 'missing');
      expect(countBy(outcomes), `outcomes of the ${prefix}-* writers`).toEqual(expected);
    }
    const resolvedBy = (prefix: string) =>
      range(1, WRITERS)
        .map((k) => views.get(`${prefix}-${k}`))
        .filter((v): v is StoredEventView => v?.outcome === 'resolved');
    for (const view of resolvedBy('tt')) {
      expect(view.decision).toMatchObject({
        rule: 'task-tags-additive',
        strategy: 'additive_merge',
        outcome: 'resolved',
      });
    }
    for (const view of resolvedBy('tl')) {
      expect(view.decision).toMatchObject({
        via: 'default_fallback',
        strategy: 'last_write_wins',
        outcome: 'resolved',
      });
      expect(view.decision?.rule).toBeUndefined();
    }
    for (const view of resolvedBy('os')) {
      expect(view.decision).toMatchObject({
        rule: 'status-forward-only',
        group: 'orders',
        strategy: 'state_machine',
      });
      // The state machine never moves the status back behind the one the event asked for.
      const chosen = JSON.stringify(view.decision?.fields?.['status']).replaceAll('"', '');
      const asked = JSON.stringify(view.event.data['status']).replaceAll('"', '');
      expect(STATUSES.indexOf(chosen as never)).toBeGreaterThanOrEqual(STATUSES.indexOf(asked as never));
    }
    for (const view of resolvedBy('n')) {
      expect(view.decision).toMatchObject({ rule: 'notes-merge', strategy: 'field_merge' });
    }
    expect(outcome('vv-s1')).toBe('superseded');
    expect(outcome('vv-s2')).toBe('superseded');
    expect(outcome('vv-c1')).toBe('merged');
    expect(views.get('lk-2')).toMatchObject({
      outcome: 'rejected',
      decision: { rule: 'locked-is-final', strategy: 'reject' },
    });
    expect(views.get('bad-1')).toMatchObject({
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_EVENT_MISSING_FIELD' } },
    });
    expect(views.get('bad-2')).toMatchObject({ outcome: 'rejected' });
    expect(views.get('bad-3')).toMatchObject({
      outcome: 'rejected',
      details: { error: { code: 'CONCORD_EVENT_WRONG_TYPE' } },
    });
    expect(views.get('op-2')).toMatchObject({ outcome: 'resolved', decision: { strategy: 'manual_review' } });
    expect(views.get('op-2')?.history.map((h) => h.outcome)).toEqual(['conflict', 'pending_review']);

    // 6. Duplicates: resubmitted ids answer with the original outcome and change nothing.
    const dupes = await post([
      envelope('tm-1', 'TaskUpdated', 'task/task-merge', { f1: 'again' }, { baseVersion: 1 }),
      envelope('os-3', 'OrderStatusChanged', 'order/order-status', { status: 'pending' }, { baseVersion: 1 }),
      envelope('dx-1', 'TaskCreated', 'task/task-dup', { title: 'once' }),
      envelope('dx-1', 'TaskCreated', 'task/task-dup', { title: 'twice' }),
    ]);
    expect(dupes).toEqual([
      {
        id: 'tm-1',
        outcome: 'duplicate',
        originalOutcome: outcome('tm-1'),
        ...(views.get('tm-1')?.version === undefined ? {} : { version: views.get('tm-1')?.version }),
      },
      expect.objectContaining({ id: 'os-3', outcome: 'duplicate', originalOutcome: outcome('os-3') }),
      { id: 'dx-1', outcome: 'applied', version: 1 },
      expect.objectContaining({ id: 'dx-1', outcome: 'duplicate', originalOutcome: 'applied' }),
    ]);
    if (brokerIntake !== undefined) {
      // A resubmission on the broker with a new message id: ingest's store answers duplicate, publishes nothing.
      const again = envelope('tt-3', 'TaskTagged', 'task/task-tags', { tags: ['again'] }, { baseVersion: 1 });
      await brokerIntake([{ id: 'submit:tt-3:again', key: 'task-tags', event: again }]);
    }
    views.set('dx-1', await finalOutcome('dx-1'));

    // 7. The pull feed, folded with patch semantics in commit order, equals every projection.
    const feed: FeedPage['events'][number][] = [];
    const readFeed = async () => {
      let after = '';
      for (;;) {
        const page = await getJson<FeedPage>(
          `${urls.ingest}/v1/events?limit=1000${after === '' ? '' : `&after=${after}`}`,
        );
        if (page.events.length === 0) return;
        feed.push(...page.events);
        after = page.next;
      }
    };
    // The broker duplicate must have been handled before the feed is final: it must not show up there.
    const folded = await eventually(
      async () => {
        feed.length = 0;
        await readFeed();
        const states = new Map<string, AggregateState>();
        // The feed is in transaction-id order, which can differ from version order within an aggregate
        // (a transaction takes its id before it waits for the aggregate's lock): fold in version order.
        const ordered = [...feed].sort((a, b) => a.version - b.version);
        for (const row of ordered) {
          const key = `${row.event.aggregateType}/${row.event.aggregateId}`;
          const next = applyPatch(states.get(key), row.event);
          expect(row.version, `feed order of ${key}`).toBe(next.version);
          states.set(key, next);
        }
        const projections = await Promise.all(
          [...states.keys()].map((key) =>
            getOptional<AggregateView>(`${urls.projector}/v1/aggregates/${key}`),
          ),
        );
        // The feed shows a transaction only once every older one has ended: wait for every applied event.
        const inFeed = new Set(feed.map((row) => row.event.id));
        const notYet = [...views].filter(
          ([id, v]) => ['applied', 'merged'].includes(v.outcome) && !inFeed.has(id),
        );
        if (notYet.length > 0) throw new Error(`feed lacks ${notYet.map(([id]) => id).join(', ')}`);
        const behind = [...states].flatMap(([key, s], i) =>
          projections[i]?.version === s.version
            ? []
            : [`${key} at ${projections[i]?.version} of ${s.version}`],
        );
        if (behind.length > 0) throw new Error(`projections behind the feed: ${behind.join(', ')}`);
        return { states, projections };
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'projections to catch up with the feed' },
    );
    for (const [i, [key, state]] of [...folded.states].entries()) {
      expect(folded.projections[i]?.fields, `projection of ${key}`).toEqual(state.fields);
    }
    const fields = (key: string) => folded.states.get(key)?.fields ?? {};
    expect(fields('task/task-merge')).toEqual({
      title: 'merge me',
      ...Object.fromEntries(range(1, WRITERS).map((k) => [`f${k}`, k])),
    });
    expect(new Set(fields('task/task-tags')['tags'] as JsonValue[])).toEqual(
      new Set(range(1, WRITERS).map((k) => `t${k}`)),
    );
    expect(fields('task/task-title')).toEqual({ title: `title-${WRITERS}` });
    expect(fields('order/order-status')).toEqual({ status: 'delivered' });
    expect(fields('note/note-1')['title']).toBe('note');
    expect(new Set(fields('note/note-1')['tags'] as JsonValue[])).toEqual(
      new Set(range(1, WRITERS).map((k) => `n${k}`)),
    );
    expect(fields('order/order-pay')).toEqual({ status: 'pending', amount: 135, currency: 'EUR' });
    expect(fields('task/task-locked')).toEqual({ locked: true });
    expect(fields('doc/doc-vv')).toEqual({ title: 'a1', body: 'b1', summary: 'c1' });
    expect(fields('task/task-dup')).toEqual({ title: 'once' });

    // 8. Notifications: exactly what the outcomes, decisions and applied changes imply.
    const expected = new Set<string>();
    for (const row of feed) {
      expected.add(`${row.event.id}:applied`);
      expected.add(`${row.event.id}:applied:projected`);
    }
    for (const [id, view] of views) {
      for (const o of [...view.history.map((h) => h.outcome), view.outcome])
        expected.add(`${id}:outcome:${o}`);
      if (view.conflictId !== undefined) {
        const conflict = await getJson<ConflictView>(`${urls.resolver}/v1/conflicts/${view.conflictId}`);
        for (const d of conflict.decisions) expected.add(`${view.conflictId}:${d.outcome}`);
      }
    }

    const messageIds = (bodies: readonly NotificationBody[]) => bodies.map((b) => b.messageId);
    const missing = (got: readonly NotificationBody[]) => {
      const have = new Set(messageIds(got));
      const absent = [...expected].filter((id) => !have.has(id));
      if (absent.length > 0)
        throw new Error(
          `${absent.length} missing: ${absent.slice(0, 15).join(', ')}; ${seenBeforeDisconnect} seen before the ` +
            `disconnect; unexpected stream ends: ${sse.unexpectedEnds.join('; ') || 'none'}`,
        );
      return true;
    };
    await eventually(() => missing(sse.events.map((e) => e.data as NotificationBody)), {
      timeoutMs: 30_000,
      what: `${expected.size} stream notifications (have ${sse.events.length})`,
    });
    const streamed = sse.events.map((e) => e.data as NotificationBody);
    expect(seenBeforeDisconnect).toBeGreaterThan(0);
    expect(seenBeforeDisconnect).toBeLessThan(streamed.length);
    expect(sse.unexpectedEnds).toEqual([]);
    expect(new Set(messageIds(streamed)).size, 'no notification twice on the stream').toBe(streamed.length);
    expect(new Set(messageIds(streamed))).toEqual(expected);
    expect(sse.events.map((e) => e.id)).toEqual(streamed.map((n) => n.id));

    // A fresh client replaying the whole log sees the same notifications in the same order.
    const replay = new SseClient(`${urls.notifier}/v1/stream`);
    await replay.connect('0');
    await eventually(() => (replay.events.length >= expected.size ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the replayed stream',
    });
    await replay.disconnect();
    expect(replay.events.map((e) => e.id)).toEqual(sse.events.map((e) => e.id));

    await eventually(() => (receiver.deliveryIds().size >= expected.size ? true : undefined), {
      timeoutMs: 60_000,
      what: `${expected.size} webhook deliveries (have ${receiver.deliveryIds().size})`,
    });
    expect(
      receiver.received.every((r) => r.signatureValid),
      'every webhook signature verifies',
    ).toBe(true);
    const byDelivery = new Map<string, NotificationBody>();
    for (const r of receiver.received) {
      const body = r.body as NotificationBody;
      const earlier = byDelivery.get(r.deliveryId);
      if (earlier !== undefined) expect(body).toEqual(earlier);
      byDelivery.set(r.deliveryId, body);
    }
    expect(byDelivery.size).toBe(expected.size);
    expect(new Set(messageIds([...byDelivery.values()]))).toEqual(expected);

    return {
      events: submitted.size,
      notifications: expected.size,
      webhookDeliveries: receiver.received.length,
    };
  } finally {
    await sse.disconnect();
    await receiver.close();
  }
}
