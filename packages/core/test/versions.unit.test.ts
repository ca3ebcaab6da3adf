import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HlcClock, formatHlc, type VersionVector } from '@concord/core/versions';
import { compareHlc, compareHlcStrings, parseHlc, type Hlc } from '../src/versions/hlc.js';
import {
  compareVectors,
  formatVector,
  incrementVector,
  mergeVectors,
  parseVector,
  pruneVector,
} from '../src/versions/vector.js';
import { manualClock } from '@concord/core/testing';

const node = fc.constantFrom('a', 'b', 'c', 'd', 'phone-1', 'ü,:x');
const vector: fc.Arbitrary<VersionVector> = fc.dictionary(node, fc.nat({ max: 20 }));
const same = (a: VersionVector, b: VersionVector) => compareVectors(a, b) === 'equal';

describe('version vectors', () => {
  it('compare: before / after / equal / concurrent', () => {
    expect(compareVectors({ a: 1 }, { a: 2 })).toBe('before');
    expect(compareVectors({ a: 2, b: 1 }, { a: 2 })).toBe('after');
    expect(compareVectors({ a: 2, b: 0 }, { a: 2 })).toBe('equal');
    expect(compareVectors({}, {})).toBe('equal');
    expect(compareVectors({ a: 1 }, { b: 1 })).toBe('concurrent');
    expect(compareVectors({ a: 2, b: 1 }, { a: 1, b: 2 })).toBe('concurrent');
  });

  it('merge is commutative, associative and idempotent, and an upper bound', () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        expect(same(mergeVectors(a, b), mergeVectors(b, a))).toBe(true);
        expect(same(mergeVectors(mergeVectors(a, b), c), mergeVectors(a, mergeVectors(b, c)))).toBe(true);
        expect(same(mergeVectors(a, a), a)).toBe(true);
        expect(['after', 'equal']).toContain(compareVectors(mergeVectors(a, b), a));
      }),
    );
  });

  it('compare is antisymmetric and consistent with merge', () => {
    const flip = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        expect(compareVectors(b, a)).toBe(flip[compareVectors(a, b)]);
        const rel = compareVectors(a, b);
        if (rel === 'before' || rel === 'equal') expect(same(mergeVectors(a, b), b)).toBe(true);
      }),
    );
  });

  it('increment dominates the original', () => {
    fc.assert(
      fc.property(vector, node, (v, n) => {
        const next = incrementVector(v, n);
        expect(compareVectors(next, v)).toBe('after');
        expect(next[n]).toBe((v[n] ?? 0) + 1);
      }),
    );
  });

  it('string form is stable (sorted) and round-trips', () => {
    expect(formatVector({ b: 2, a: 1, z: 0 })).toBe('a:1,b:2');
    expect(formatVector({ a: 1, b: 2 })).toBe(formatVector({ b: 2, a: 1 }));
    fc.assert(
      fc.property(vector, (v) => {
        expect(same(parseVector(formatVector(v)), v)).toBe(true);
      }),
    );
    expect(() => parseVector('a:-1')).toThrowError(
      expect.objectContaining({ code: 'CONCORD_VECTOR_INVALID' }) as Error,
    );
  });

  it('prunes by dropping the smallest counters, never the kept node, and stays below the original', () => {
    expect(pruneVector({ a: 5, b: 1, c: 3, d: 1 }, { maxEntries: 2 })).toEqual({ a: 5, c: 3 });
    expect(pruneVector({ a: 5, b: 1, c: 3 }, { maxEntries: 2, keep: 'b' })).toEqual({ a: 5, b: 1 });
    expect(incrementVector({ a: 5, b: 4 }, 'c', { maxEntries: 2 })).toEqual({ a: 5, c: 1 });
    fc.assert(
      fc.property(vector, fc.integer({ min: 1, max: 4 }), (v, max) => {
        const pruned = pruneVector(v, { maxEntries: max });
        expect(Object.keys(pruned).length).toBe(Math.min(max, Object.keys(v).length));
        expect(['before', 'equal']).toContain(compareVectors(pruned, v));
      }),
    );
  });
});

describe('hybrid logical clock', () => {
  it('string form sorts like compareHlc and round-trips', () => {
    const hlc = fc.record({ wall: fc.nat({ max: 2 ** 45 }), logical: fc.nat({ max: 999_999 }), node });
    fc.assert(
      fc.property(hlc, hlc, (a: Hlc, b: Hlc) => {
        expect(compareHlcStrings(formatHlc(a), formatHlc(b))).toBe(compareHlc(a, b));
        expect(parseHlc(formatHlc(a))).toEqual(a);
      }),
    );
    expect(formatHlc({ wall: 1700000000000, logical: 3, node: 'n1' })).toBe('001700000000000-000003-n1');
  });

  it('now() is strictly monotonic even when the physical clock stalls or goes back', () => {
    const clock = manualClock(1000);
    const hlc = new HlcClock({ node: 'a', clock });
    const first = hlc.now();
    expect(first).toEqual({ wall: 1000, logical: 0, node: 'a' });
    expect(hlc.now()).toEqual({ wall: 1000, logical: 1, node: 'a' });
    clock.set(500);
    expect(hlc.now()).toEqual({ wall: 1000, logical: 2, node: 'a' });
    clock.set(2000);
    expect(hlc.now()).toEqual({ wall: 2000, logical: 0, node: 'a' });
  });

  it('receive() is later than both the local and the remote stamp', () => {
    const clock = manualClock(1000);
    const hlc = new HlcClock({ node: 'a', clock, maxDriftMs: 500 });
    expect(hlc.receive({ wall: 1200, logical: 7, node: 'b' })).toEqual({ wall: 1200, logical: 8, node: 'a' });
    expect(hlc.receive({ wall: 1200, logical: 3, node: 'b' })).toEqual({ wall: 1200, logical: 9, node: 'a' });
    clock.set(5000);
    expect(hlc.receive({ wall: 1200, logical: 3, node: 'b' })).toEqual({ wall: 5000, logical: 0, node: 'a' });
  });

  it('refuses remote stamps beyond the max drift', () => {
    const hlc = new HlcClock({ node: 'a', clock: manualClock(1000), maxDriftMs: 500 });
    expect(() => hlc.receive({ wall: 1501, logical: 0, node: 'b' })).toThrowError(
      expect.objectContaining({ code: 'CONCORD_HLC_DRIFT', retryable: false }) as Error,
    );
    expect(hlc.receive({ wall: 1500, logical: 0, node: 'b' }).wall).toBe(1500);
  });

  it('is monotonic under arbitrary clock skew and message interleavings', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('tick' as const),
        at: fc.integer({ min: 0, max: 10_000 }),
        who: fc.nat(2),
      }),
      fc.record({
        kind: fc.constant('send' as const),
        at: fc.integer({ min: 0, max: 10_000 }),
        from: fc.nat(2),
        to: fc.nat(2),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3000, max: 3000 }), { minLength: 3, maxLength: 3 }),
        fc.array(step),
        (skews, steps) => {
          const clocks = skews.map((s) => manualClock(10_000 + s));
          const nodes = clocks.map(
            (clock, i) => new HlcClock({ node: `n${i}`, clock, maxDriftMs: 1_000_000 }),
          );
          const last = nodes.map((n) => n.last);
          for (const s of steps) {
            for (const [i, c] of clocks.entries()) c.set(10_000 + (skews[i] ?? 0) + s.at);
            if (s.kind === 'tick') {
              const stamp = nodes[s.who]!.now();
              expect(compareHlc(stamp, last[s.who]!)).toBe(1);
              last[s.who] = stamp;
            } else {
              const sent = nodes[s.from]!.now();
              last[s.from] = sent;
              const got = nodes[s.to]!.receive(sent);
              expect(compareHlc(got, sent)).toBe(1);
              expect(compareHlc(got, last[s.to]!)).toBe(1);
              last[s.to] = got;
            }
          }
        },
      ),
    );
  });
});
