import { describe, expect, it } from 'vitest';
import { applyChanges, changeSetOf } from '@concord/core/conflict';
import { creditedWrite, resolutionChanges } from '@concord/core/decision';
import { orderWrites } from '@concord/core/strategy';
import { HlcClock, acceptEvent } from '@concord/core/versions';
import type { EventEnvelope } from '@concord/core/envelope';
import type { StrategyResult } from '@concord/core/strategy';
import { hlc, makeConflict } from './support.js';

const event = (over: Partial<EventEnvelope> = {}): EventEnvelope => ({
  id: 'e1',
  type: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-1',
  data: { title: 'x' },
  ...over,
});

const clockAt = (ms: { now: number }) => new HlcClock({ node: 'ingest-a', clock: { now: () => ms.now } });

describe('server time (issue 18 item 1)', () => {
  it('stamps every accepted event with the server HLC, beside the writer’s own', () => {
    const ms = { now: 1_000 };
    const clock = clockAt(ms);
    const a = acceptEvent(event({ id: 'w9' }), { clock, maxClockSkewMs: 60_000 });
    const b = acceptEvent(event({ id: 'w1', hlc: hlc(900, 'phone') }), { clock, maxClockSkewMs: 60_000 });
    expect(a).toEqual({ ok: true, event: expect.objectContaining({ serverHlc: hlc(1_000, 'ingest-a') }) });
    expect(b).toEqual({
      ok: true,
      event: expect.objectContaining({ hlc: hlc(900, 'phone'), serverHlc: hlc(1_000, 'ingest-a', 1) }),
    });
  });

  it('refuses a writer’s HLC further ahead of the server clock than the maximum offset', () => {
    const ms = { now: 1_000_000 };
    const clock = clockAt(ms);
    const evil = acceptEvent(event({ hlc: '999999999999999-000000-evil' }), {
      clock,
      maxClockSkewMs: 300_000,
    });
    expect(evil).toMatchObject({ ok: false, code: 'CONCORD_EVENT_CLOCK_AHEAD' });
    const edge = acceptEvent(event({ hlc: hlc(1_300_000, 'p') }), { clock, maxClockSkewMs: 300_000 });
    expect(edge.ok).toBe(true);
    const over = acceptEvent(event({ hlc: hlc(1_300_002, 'p') }), { clock, maxClockSkewMs: 300_000 });
    expect(over.ok).toBe(false);
  });

  it('without client clocks, the write accepted last wins, whatever the event ids', () => {
    // w9 accepted first, then w1: w1 is later although "w1" < "w9".
    const conflict = makeConflict({
      event: { id: 'w1', serverHlc: hlc(2_000, 'ingest-a') },
      local: { title: { value: 'nine', eventId: 'w9', serverHlc: hlc(1_000, 'ingest-b') } },
    });
    expect(
      orderWrites({ eventId: 'w1', serverHlc: hlc(2_000, 'ingest-a') }, conflict.local['title']),
    ).toEqual({
      cmp: 1,
      key: 'hlc',
    });
  });

  it('orders a client HLC when present, else the server HLC; then server HLC, origin, event id', () => {
    // The local write's client HLC (1500) is earlier than the remote's server HLC (2000).
    expect(
      orderWrites(
        { eventId: 'a', serverHlc: hlc(2_000) },
        { eventId: 'b', hlc: hlc(1_500), serverHlc: hlc(3_000) },
      ).cmp,
    ).toBe(1);
    // Equal client HLCs: accepted order decides.
    expect(
      orderWrites(
        { eventId: 'a', hlc: hlc(5), serverHlc: hlc(1_000) },
        { eventId: 'b', hlc: hlc(5), serverHlc: hlc(2_000) },
      ),
    ).toEqual({ cmp: -1, key: 'serverHlc' });
  });
});

describe('exact provenance (issue 18 item 2)', () => {
  const remote = { eventId: 'e-remote', hlc: hlc(3_000, 'r'), origin: 'phone' };
  const conflict = makeConflict({
    event: { hlc: remote.hlc, origin: 'phone', serverHlc: hlc(3_001, 'i'), metadata: { source: 'mobile' } },
    remote: { title: 'remote', tags: ['b'], note: 'n' },
    local: {
      title: { value: 'local', eventId: 'e-local', hlc: hlc(4_000, 'l'), origin: 'web', source: 'erp' },
      tags: { value: ['a'], eventId: 'e-local', hlc: hlc(4_000, 'l'), origin: 'web', source: 'erp' },
    },
  });
  const result: StrategyResult = {
    decision: 'resolved',
    strategy: 'field_merge',
    fields: { title: 'remote', tags: ['a', 'b'] },
    choices: [
      { field: 'tags', source: 'merged', value: ['a', 'b'], reason: 'union' },
      { field: 'title', source: 'remote', value: 'remote', reason: 'prefer_remote' },
    ],
    reasons: [],
  };

  it('credits each field to the write whose value it is; a merged value to the later write', () => {
    const change = resolutionChanges(conflict, result);
    const state = applyChanges(undefined, change!);
    expect(state.fieldVersions['title']).toMatchObject({
      ...remote,
      source: 'mobile',
      serverHlc: hlc(3_001, 'i'),
    });
    expect(state.fieldVersions['note']).toMatchObject({ eventId: 'e-remote' });
    // Local HLC 4000 is later than the remote's 3000: the union is credited to the local write.
    expect(state.fieldVersions['tags']).toEqual({
      version: 1,
      eventId: 'e-local',
      hlc: hlc(4_000, 'l'),
      origin: 'web',
      source: 'erp',
    });
  });

  it('credits a kept local value to its writer, with its clock and source', () => {
    expect(creditedWrite(conflict, 'title', 'local')).toEqual({
      eventId: 'e-local',
      hlc: hlc(4_000, 'l'),
      origin: 'web',
      source: 'erp',
    });
  });

  it('an event’s own change carries its server HLC into the field versions', () => {
    const e = event({ serverHlc: hlc(7, 'i') });
    expect(applyChanges(undefined, changeSetOf(e)).fieldVersions['title']).toEqual({
      version: 1,
      eventId: 'e1',
      serverHlc: hlc(7, 'i'),
    });
  });
});
