import { readFile } from 'node:fs/promises';
import { isFinalOutcome } from '@concord/core/messages';
import { formatHlc } from '@concord/core/versions';
import type { EventEnvelope } from '@concord/core/envelope';
import { expect } from 'vitest';
import { getJson, getOptional, postJson } from './http.js';
import { eventually } from './processes.js';
import { SseClient } from './sse-client.js';
import { SCENARIO_POLICY } from './stack.js';
import type { Stack } from './stack.js';
import { WebhookReceiver } from './webhook-receiver.js';
import {
  expectOutcomes,
  expectProjections,
  expectedNotifications,
  feedAndProjections,
} from './scenario-checks.js';
import { WALL, WAVES, WRITERS, envelope, range, writer } from './scenario-events.js';
import type {
  AggregateView,
  ConflictView,
  HistoryEntry,
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
 *
 * Its phases run in order over one stack, each as its own test (run.ts), so a failure names its phase.
 * A phase reads what earlier phases left in the fields below.
 */
const messageIds = (bodies: readonly NotificationBody[]) => bodies.map((b) => b.messageId);

export class Scenario {
  readonly #stack: Stack;
  readonly #submitted = new Set<string>();
  readonly #receiver: WebhookReceiver;
  readonly #sse: SseClient;
  readonly #views = new Map<string, StoredEventView>();
  #seenBeforeDisconnect = 0;
  #feed: Awaited<ReturnType<typeof feedAndProjections>>['feed'] = [];
  #expected = new Set<string>();

  constructor(stack: Stack) {
    this.#stack = stack;
    this.#receiver = new WebhookReceiver(`e2e-secret-${stack.run}`);
    this.#sse = new SseClient(`${stack.urls.notifier}/v1/stream`);
  }

  get report(): ScenarioReport {
    return {
      events: this.#submitted.size,
      notifications: this.#expected.size,
      webhookDeliveries: this.#receiver.received.length,
    };
  }

  async #post(events: readonly unknown[]): Promise<SubmitResult[]> {
    const { results } = await postJson<{ results: SubmitResult[] }>(`${this.#stack.urls.ingest}/v1/events`, {
      events,
    });
    for (const r of results) if (r.id !== null) this.#submitted.add(r.id);
    return results;
  }

  async #postOne(event: unknown): Promise<SubmitResult> {
    const [result] = await this.#post([event]);
    if (result === undefined) throw new Error('no result');
    return result;
  }

  /** Writers whose number is a multiple of three go through `concord.events.submit` when there is a broker. */
  async #submitWriter(k: number, event: EventEnvelope): Promise<void> {
    this.#submitted.add(event.id);
    const intake = this.#stack.submit;
    if (intake !== undefined && k % 3 === 0) {
      await intake([{ id: `submit:${event.id}`, key: event.aggregateId, event }]);
    } else {
      await this.#postOne(event);
    }
  }

  #eventView(id: string): Promise<StoredEventView> {
    return getJson<StoredEventView>(`${this.#stack.urls.ingest}/v1/events/${encodeURIComponent(id)}`);
  }

  #finalOutcome(id: string, timeoutMs = 60_000): Promise<StoredEventView> {
    return eventually(
      async () => {
        const view = await getOptional<StoredEventView>(
          `${this.#stack.urls.ingest}/v1/events/${encodeURIComponent(id)}`,
        );
        return view !== undefined && isFinalOutcome(view.outcome) ? view : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `a final outcome of ${id}` },
    );
  }

  #outcome(id: string) {
    return this.#views.get(id)?.outcome;
  }

  /** Subscribers first: a webhook for everything, and a stream starting at the present. */
  async subscribe(): Promise<void> {
    await this.#receiver.start();
    await postJson(`${this.#stack.urls.notifier}/v1/subscriptions`, {
      url: this.#receiver.url,
      secret: this.#receiver.secret,
    });
    await this.#sse.connect();
  }

  /** 1. Every aggregate's first version, in one batch. */
  async firstVersions(): Promise<void> {
    const initial = await this.#post([
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
  }

  /** 2. Sequential changes whose outcomes the scenario pins down exactly. */
  async sequentialChanges(): Promise<void> {
    expect(
      await this.#postOne(
        envelope('vv-2', 'DocEdited', 'doc/doc-vv', { body: 'b1' }, { origin: 'b', clock: { a: 1, b: 1 } }),
      ),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    expect(
      await this.#postOne(
        envelope('op-1', 'OrderUpdated', 'order/order-pay', { amount: 120 }, { baseVersion: 1 }),
      ),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    expect(
      await this.#postOne(
        envelope('op-2', 'OrderUpdated', 'order/order-pay', { amount: 150 }, { baseVersion: 1 }),
      ),
    ).toMatchObject({ outcome: 'conflict', version: 2, conflictId: 'op-2' });
    expect(
      await this.#postOne(
        envelope('lk-1', 'TaskLocked', 'task/task-locked', { locked: true }, { baseVersion: 1 }),
      ),
    ).toMatchObject({ outcome: 'applied', version: 2 });
    const rejected = await this.#post([
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
    this.#submitted.add('bad-3');
    if (this.#stack.submit !== undefined)
      await this.#stack.submit([{ id: 'submit:bad-3', key: 'task-merge', event: badData }]);
    else await this.#post([badData]);
  }

  /** 3. Three waves of concurrent writers; the projector dies during the first, the resolver during the third. */
  async concurrentWaves(): Promise<void> {
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
        ...ks.flatMap((k) => writer(k).map((event) => this.#submitWriter(k, event))),
        ...(extras[w] ?? []).map((event) => this.#postOne(event)),
      ]);
    };

    // The stream drops after the second wave and resumes after the third. It must have received something
    // first: a client that saw nothing has no Last-Event-ID and resumes at the present (a fresh or just
    // restarted Kafka can hold the first publishes back for seconds while its coordinators load).
    const dropStream = async () => {
      await eventually(() => (this.#sse.events.length > 0 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'a first stream notification before the stream drops',
      });
      await this.#sse.disconnect();
    };
    const crash = this.#stack.crash;
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
    this.#seenBeforeDisconnect = this.#sse.events.length;
    await this.#sse.connect();
  }

  /** 4. The manual review: pending with the provisional (first write's) value, then decided over HTTP. */
  async manualReview(): Promise<void> {
    const pending = await eventually(
      async () => {
        const { conflicts } = await getJson<{ conflicts: ConflictView[] }>(
          `${this.#stack.urls.resolver}/v1/conflicts?status=pending_review`,
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
    expect((await this.#eventView('op-2')).outcome).toBe('pending_review');
    const decided = await postJson<ConflictView>(`${this.#stack.urls.resolver}/v1/conflicts/op-2/decision`, {
      fields: { amount: { value: 135 } },
      userId: 'e2e-reviewer',
    });
    expect(decided.status).toBe('resolved');
  }

  /** Waits for the stream to carry a notification of the message `messageId`. */
  #streamed(messageId: string): Promise<true> {
    return eventually(
      () =>
        this.#sse.events.some((e) => (e.data as NotificationBody).messageId === messageId) ? true : undefined,
      { timeoutMs: 30_000, what: `a stream notification of ${messageId}` },
    );
  }

  /** The projection of `aggregate` once it reaches `version`. */
  #projected(aggregate: string, version: number): Promise<AggregateView> {
    return eventually(
      async () => {
        const view = await getOptional<AggregateView>(
          `${this.#stack.urls.projector}/v1/aggregates/${aggregate}`,
        );
        return view !== undefined && view.version >= version ? view : undefined;
      },
      { timeoutMs: 30_000, what: `the projection of ${aggregate} at version ${version}` },
    );
  }

  /**
   * 4b. The review's decision is reopened: back into review as a new version (the decided value stands),
   * recorded in the ledger with who, why, before and after, projected and notified; then decided again.
   */
  async reopenDecision(): Promise<void> {
    const { resolver, projector } = this.#stack.urls;
    const decided = await getJson<ConflictView>(`${resolver}/v1/conflicts/op-2`);
    const version = decided.version ?? 0;
    const reopened = await postJson<ConflictView>(`${resolver}/v1/conflicts/op-2/reopen`, {
      reason: 'the amount needs a second look',
      userId: 'e2e-auditor',
    });
    expect(reopened).toMatchObject({
      status: 'pending_review',
      rule: 'payment-needs-review',
      version: version + 1,
      review: { dueAt: expect.any(String), provisional: true },
    });
    expect(reopened.decisions.map((d) => [d.decidedBy, d.outcome, d.round])).toEqual([
      ['policy', 'pending_review', 0],
      ['human', 'resolved', 0],
      ['reopen', 'pending_review', 1],
    ]);
    expect(reopened.decisions.at(-1)?.reopen).toMatchObject({
      userId: 'e2e-auditor',
      reason: 'the amount needs a second look',
      before: { outcome: 'resolved', version, fields: { amount: 135 } },
      after: { outcome: 'pending_review', version: version + 1, fields: { amount: 135 } },
    });
    expect(await this.#projected('order/order-pay', version + 1)).toMatchObject({
      version: version + 1,
      fields: { amount: 135 },
    });
    const history = await getJson<{ events: HistoryEntry[] }>(
      `${projector}/v1/aggregates/order/order-pay/history?limit=500`,
    );
    expect(history.events.map((e) => e.id)).toEqual(
      expect.arrayContaining(['op-2', 'op-2:resolution', 'op-2:reopen:1']),
    );
    expect(history.events.find((e) => e.id === 'op-2:reopen:1')).toMatchObject({
      type: 'ConflictReopened',
      outcome: 'pending_review',
      version: version + 1,
    });
    expect(history.events.find((e) => e.id === 'op-2')?.decisions).toHaveLength(3);
    await this.#streamed('op-2:pending_review:1');
    await this.#streamed('op-2:reopen:1:applied');

    const again = await postJson<ConflictView>(`${resolver}/v1/conflicts/op-2/decision`, {
      fields: { amount: { value: 140 } },
      userId: 'e2e-reviewer',
    });
    expect(again).toMatchObject({ status: 'resolved', version: version + 2 });
    expect((await this.#projected('order/order-pay', version + 2)).fields).toMatchObject({ amount: 140 });
    await this.#streamed('op-2:resolved:1');
  }

  /** 5. Every event reaches exactly one final outcome. */
  async finalOutcomes(): Promise<void> {
    await Promise.all(
      [...this.#submitted].map(async (id) => {
        this.#views.set(id, await this.#finalOutcome(id));
      }),
    );
    expectOutcomes(this.#views);
  }

  /**
   * 5b. A dry run of a second policy over the scenario's conflicts: the scenario policy with first write
   * wins for task tags re-decides every recorded conflict, changes exactly the tags conflicts, writes nothing.
   */
  async dryRunPolicy(): Promise<void> {
    const { resolver } = this.#stack.urls;
    const candidate = (await readFile(SCENARIO_POLICY, 'utf8'))
      .replace('name: e2e-scenario', 'name: e2e-first-tags')
      .replace('resolution: { strategy: additive_merge }', 'resolution: { strategy: first_write_wins }');
    const ledger = async () =>
      (await getJson<{ conflicts: ConflictView[] }>(`${resolver}/v1/conflicts?limit=500`)).conflicts;
    const before = await ledger();
    const response = await fetch(`${resolver}/v1/policy/dry-run?changes=100`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: candidate,
    });
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      policy: { name: string };
      conflicts: number;
      changed: number;
      byRule: Record<string, number>;
      changes: { conflictId: string; before: { strategy: string }; after: { strategy: string } }[];
      truncated: boolean;
    };
    // Every writer of tt, tl, os and n but the first conflicted, and op-2 and lk-2 (expectOutcomes).
    const conflicts = 4 * (WRITERS - 1) + 2;
    expect(before).toHaveLength(conflicts);
    expect(report).toMatchObject({
      policy: { name: 'e2e-first-tags' },
      conflicts,
      changed: WRITERS - 1,
      byRule: {
        default_fallback: WRITERS - 1,
        'locked-is-final': 1,
        'notes-merge': WRITERS - 1,
        'payment-needs-review': 1,
        'status-forward-only': WRITERS - 1,
        'task-tags-additive': WRITERS - 1,
      },
      truncated: false,
    });
    expect(report.changes.map((c) => c.conflictId).sort()).toEqual(
      before
        .filter((c) => c.id.startsWith('tt-'))
        .map((c) => c.id)
        .sort(),
    );
    for (const change of report.changes) {
      expect([change.before.strategy, change.after.strategy]).toEqual(['additive_merge', 'first_write_wins']);
    }
    // Nothing was written: the conflicts are as they were.
    expect(await ledger()).toEqual(before);
  }

  /** 6. Duplicates: resubmitted ids answer with the original outcome and change nothing. */
  async duplicates(): Promise<void> {
    const dupes = await this.#post([
      envelope('tm-1', 'TaskUpdated', 'task/task-merge', { f1: 'again' }, { baseVersion: 1 }),
      envelope('os-3', 'OrderStatusChanged', 'order/order-status', { status: 'pending' }, { baseVersion: 1 }),
      envelope('dx-1', 'TaskCreated', 'task/task-dup', { title: 'once' }),
      envelope('dx-1', 'TaskCreated', 'task/task-dup', { title: 'twice' }),
    ]);
    expect(dupes).toEqual([
      {
        id: 'tm-1',
        outcome: 'duplicate',
        originalOutcome: this.#outcome('tm-1'),
        ...(this.#views.get('tm-1')?.version === undefined
          ? {}
          : { version: this.#views.get('tm-1')?.version }),
      },
      expect.objectContaining({ id: 'os-3', outcome: 'duplicate', originalOutcome: this.#outcome('os-3') }),
      { id: 'dx-1', outcome: 'applied', version: 1 },
      expect.objectContaining({ id: 'dx-1', outcome: 'duplicate', originalOutcome: 'applied' }),
    ]);
    if (this.#stack.submit !== undefined) {
      // A resubmission on the broker with a new message id: ingest's store answers duplicate, publishes nothing.
      const again = envelope('tt-3', 'TaskTagged', 'task/task-tags', { tags: ['again'] }, { baseVersion: 1 });
      await this.#stack.submit([{ id: 'submit:tt-3:again', key: 'task-tags', event: again }]);
    }
    this.#views.set('dx-1', await this.#finalOutcome('dx-1'));
  }

  /** 7. The pull feed, folded with patch semantics in commit order, equals every projection. */
  async feedEqualsProjections(): Promise<void> {
    // The broker duplicate must have been handled before the feed is final: it must not show up there.
    const { feed, ...folded } = await feedAndProjections(this.#stack.urls, this.#views);
    this.#feed = feed;
    expectProjections(folded);
  }

  /** 8. The stream: exactly what the outcomes, decisions and applied changes imply, also on replay. */
  async streamNotifications(): Promise<void> {
    const expected = await expectedNotifications(this.#stack.urls, this.#feed, this.#views);
    this.#expected = expected;
    const seenBeforeDisconnect = this.#seenBeforeDisconnect;
    const missing = (got: readonly NotificationBody[]) => {
      const have = new Set(messageIds(got));
      const absent = [...expected].filter((id) => !have.has(id));
      if (absent.length > 0)
        throw new Error(
          `${absent.length} missing: ${absent.slice(0, 15).join(', ')}; ${seenBeforeDisconnect} seen before the ` +
            `disconnect; unexpected stream ends: ${this.#sse.unexpectedEnds.join('; ') || 'none'}`,
        );
      return true;
    };
    await eventually(() => missing(this.#sse.events.map((e) => e.data as NotificationBody)), {
      timeoutMs: 30_000,
      what: `${expected.size} stream notifications (have ${this.#sse.events.length})`,
    });
    const streamed = this.#sse.events.map((e) => e.data as NotificationBody);
    expect(seenBeforeDisconnect).toBeGreaterThan(0);
    expect(seenBeforeDisconnect).toBeLessThan(streamed.length);
    expect(this.#sse.unexpectedEnds).toEqual([]);
    expect(new Set(messageIds(streamed)).size, 'no notification twice on the stream').toBe(streamed.length);
    expect(new Set(messageIds(streamed))).toEqual(expected);
    expect(this.#sse.events.map((e) => e.id)).toEqual(streamed.map((n) => n.id));

    // A fresh client replaying the whole log sees the same notifications in the same order.
    const replay = new SseClient(`${this.#stack.urls.notifier}/v1/stream`);
    await replay.connect('0');
    await eventually(() => (replay.events.length >= expected.size ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the replayed stream',
    });
    await replay.disconnect();
    expect(replay.events.map((e) => e.id)).toEqual(this.#sse.events.map((e) => e.id));
  }

  /** 9. Webhooks: one delivery per expected notification, each signed, redeliveries identical. */
  async webhookDeliveries(): Promise<void> {
    const expected = this.#expected;
    await eventually(() => (this.#receiver.deliveryIds().size >= expected.size ? true : undefined), {
      timeoutMs: 60_000,
      what: `${expected.size} webhook deliveries (have ${this.#receiver.deliveryIds().size})`,
    });
    expect(
      this.#receiver.received
        .filter((r) => !r.signatureValid)
        .map((r) => `${r.deliveryId}: ${r.signatureError}`),
      'every webhook verifies (Standard Webhooks signature and timestamp)',
    ).toEqual([]);
    const byDelivery = new Map<string, NotificationBody>();
    for (const r of this.#receiver.received) {
      const body = r.body as NotificationBody;
      const earlier = byDelivery.get(r.deliveryId);
      if (earlier !== undefined) expect(body).toEqual(earlier);
      byDelivery.set(r.deliveryId, body);
    }
    expect(byDelivery.size).toBe(expected.size);
    expect(new Set(messageIds([...byDelivery.values()]))).toEqual(expected);
  }

  async close(): Promise<void> {
    await this.#sse.disconnect();
    await this.#receiver.close();
  }
}
