import type { IncomingMessage } from '@concord/bus';
import { DLQ_HEADERS } from '@concord/bus';
import { findUnstorableText } from '@concord/core/envelope';
import { isFinalOutcome, OUTCOMES } from '@concord/core/messages';
import type { Outcome, OutcomeMessage } from '@concord/core/messages';
import type { TestDatabase } from '@concord/outbox/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Body, Ingest } from './support/harness.js';
import { openDatabase, startIngest, unique, waitFor } from './support/harness.js';
import { batchText, garbageBody, hostileBatch } from './support/hostile.js';

/**
 * The standing fuzz (issue 16): hostile batches over HTTP and, the same batch under other ids, as a
 * submit message. Cases per property: `CONCORD_FUZZ_RUNS` (`pnpm fuzz` raises it), else a number that
 * keeps this file within seconds; `CONCORD_FUZZ_SEED` and `CONCORD_FUZZ_PATH` (as fast-check reports
 * them) replay a failure.
 */
const RUNS = Number(process.env['CONCORD_FUZZ_RUNS'] ?? 25);
const SEED = process.env['CONCORD_FUZZ_SEED'];
const PATH = process.env['CONCORD_FUZZ_PATH'];
const settings = {
  numRuns: RUNS,
  ...(SEED === undefined ? {} : { seed: Number(SEED) }),
  ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
};

/** Each case takes some 150 ms (an HTTP batch, a submit message, reads by id); the long run needs longer. */
const TIMEOUT_MS = Math.max(60_000, RUNS * 500);

const CODE = /^CONCORD_[A-Z0-9_]+$/;

describe('standing fuzz: hostile submissions over HTTP and the submit topic', () => {
  const run = unique();
  let t: TestDatabase;
  let ingest: Ingest;
  let outcomes: IncomingMessage[];
  let dead: IncomingMessage[];
  beforeAll(async () => {
    t = await openDatabase(inject('DATABASE_URL'));
    ingest = await startIngest(t.db, { options: { groupCommit: { lingerMs: 1 } } });
    outcomes = await ingest.collect('concord.events.outcome');
    dead = await ingest.collect('concord.events.submit.dlq');
    // Consumed as downstream services would, so the outbox drains and admission control stays quiet.
    await ingest.collect('concord.events.applied');
    await ingest.collect('concord.conflicts.detected');
    ingest.startRelay();
  });
  afterAll(async () => {
    await ingest?.close();
    await t?.close();
  });

  let cases = 0;
  /** Prefixes of equal length for the two twins of a case, so every id-length limit treats them alike. */
  const prefixes = () => {
    const n = String(cases++).padStart(6, '0');
    return { http: `h${run}${n}-`, submit: `s${run}${n}-` };
  };

  const outcomeOf = (eventId: string): OutcomeMessage | undefined => {
    const message = outcomes.find((m) => m.key === eventId);
    return message && (JSON.parse(new TextDecoder().decode(message.payload)) as OutcomeMessage);
  };

  const storedOutcome = async (id: string): Promise<Outcome | undefined> => {
    const response = await ingest.get(`/v1/events/${encodeURIComponent(id)}`);
    expect(response.status, `GET ${id}`).toBe(200);
    return response.body['outcome'] as Outcome | undefined;
  };

  const expectError = (body: Body) => expect(body.error.code).toMatch(CODE);

  it(
    'answers every hostile batch per event, as HTTP and as a submit message alike',
    async () => {
      await fc.assert(
        fc.asyncProperty(hostileBatch, async (events) => {
          const p = prefixes();
          const twin = (id: string) => `${p.submit}${id.slice(p.http.length)}`;

          // HTTP: a well-formed batch is answered 200, one result per event, never refused as a whole.
          const response = await ingest.post(batchText(events, p.http));
          if (response.status !== 200) expectError(response.body);
          expect(response.status).toBe(200);
          const { results } = response.body;
          expect(results).toHaveLength(events.length);
          for (const result of results) {
            expect(OUTCOMES).toContain(result.outcome);
            if (result.outcome === 'rejected') expect(result.error.code).toMatch(CODE);
            if (result.id !== null) expect(result.id.startsWith(p.http)).toBe(true);
          }
          // The valid events among them are applied and found again by id, with their data intact.
          for (const [i, event] of events.entries()) {
            if (event.valid === undefined) continue;
            const id = `${p.http}${event.valid.id}`;
            expect(results[i]).toMatchObject({ id, outcome: 'applied' });
            const found = await ingest.get(`/v1/events/${encodeURIComponent(id)}`);
            expect(found.body).toMatchObject({ outcome: 'applied' });
            expect((found.body['event'] as { data: unknown }).data).toEqual(event.valid.data);
          }
          // Every event recorded under an id has a final outcome.
          for (const result of results) {
            if (result.id !== null)
              expect(isFinalOutcome((await storedOutcome(result.id)) ?? 'conflict')).toBe(true);
          }

          // The submit topic: the same events under the twin ids get the same outcomes, each published;
          // a message with nothing usable is dead-lettered with a stable code.
          const messageId = `m-${p.submit}`;
          await ingest.bus.publish('concord.events.submit', [
            { id: messageId, key: messageId, payload: new TextEncoder().encode(batchText(events, p.submit)) },
          ]);
          const published = results.filter((r) => r.id !== null && r.outcome !== 'duplicate');
          if (results.every((r) => r.id === null)) {
            await waitFor(`dead letter of ${messageId}`, () => dead.some((m) => m.id === messageId));
            const letter = dead.find((m) => m.id === messageId);
            expect(letter?.headers[DLQ_HEADERS.errorCode]).toMatch(CODE);
            return;
          }
          await waitFor(`outcomes of ${messageId}`, () =>
            published.every((r) => outcomeOf(twin(r.id as string)) !== undefined),
          );
          for (const result of published) {
            const id = twin(result.id as string);
            const outcome = outcomeOf(id);
            expect(outcome, id).toMatchObject({ outcome: result.outcome, final: true });
            // Storable wherever it goes (a notifier's log): echoes of refused text are escaped.
            expect(findUnstorableText(outcome, '')).toBeUndefined();
            expect(outcome?.error?.code).toBe(result.error?.code);
            expect(await storedOutcome(id)).toBe(result.outcome);
          }
          expect(dead.filter((m) => m.id === messageId)).toEqual([]);
        }),
        settings,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'refuses a body that is not a batch with a stable 4xx code, and never fails on one',
    async () => {
      await fc.assert(
        fc.asyncProperty(garbageBody, async (body) => {
          const response = await ingest.post(body);
          expect(response.status).toBeLessThan(500);
          if (response.status !== 200) {
            expectError(response.body);
            return;
          }
          for (const result of response.body.results) {
            expect(result.outcome).toBe('rejected');
            expect(result.error.code).toMatch(CODE);
          }
        }),
        { ...settings, numRuns: RUNS * 2 },
      );
    },
    TIMEOUT_MS,
  );
});
