import { describe, expect, it } from 'vitest';
import {
  aggregateId,
  aggregateType,
  and,
  eventType,
  fieldsAllOf,
  fieldsAnyOf,
  metadataEquals,
  metadataIn,
  not,
  or,
  origin,
  versionRelation,
} from '../src/spec/spec.js';
import { makeConflict } from './support.js';

const c = makeConflict({
  event: {
    type: 'PriceChanged',
    aggregateType: 'product',
    aggregateId: 'note-12',
    origin: 'erp-1',
    metadata: { source: 'erp', n: 3 },
  },
  remote: { price: 1, title: 'x' },
  local: { price: { value: 2 }, title: { value: 'y' } },
});

describe('specs', () => {
  it('match event type, aggregate type, origin, relation', () => {
    expect(eventType('TaskUpdated', 'PriceChanged')(c)).toBe(true);
    expect(eventType('TaskUpdated')(c)).toBe(false);
    expect(aggregateType('product')(c)).toBe(true);
    expect(origin('erp-1')(c)).toBe(true);
    expect(origin('phone')(c)).toBe(false);
    expect(versionRelation('stale_base')(c)).toBe(true);
    expect(versionRelation('concurrent')(c)).toBe(false);
  });

  it('match aggregate ids exactly, by glob and by re: regex', () => {
    expect(aggregateId('note-12')(c)).toBe(true);
    expect(aggregateId('note-1')(c)).toBe(false);
    expect(aggregateId('note-*')(c)).toBe(true);
    expect(aggregateId('note-?')(c)).toBe(false);
    expect(aggregateId('note-??')(c)).toBe(true);
    expect(aggregateId('n.te-*')(c)).toBe(false);
    expect(aggregateId('re:^note-\\d+$')(c)).toBe(true);
    expect(aggregateId('re:^note-[a-z]+$')(c)).toBe(false);
    expect(aggregateId('task-1', 'note-*')(c)).toBe(true);
    expect(() => aggregateId('re:(')).toThrowError(
      expect.objectContaining({ code: 'CONCORD_SPEC_INVALID' }) as Error,
    );
  });

  it('match overlapping fields any-of / all-of', () => {
    expect(fieldsAnyOf('price', 'stock')(c)).toBe(true);
    expect(fieldsAnyOf('stock')(c)).toBe(false);
    expect(fieldsAllOf('price', 'title')(c)).toBe(true);
    expect(fieldsAllOf('price', 'stock')(c)).toBe(false);
  });

  it('match metadata equals / in, typed', () => {
    expect(metadataEquals('source', 'erp')(c)).toBe(true);
    expect(metadataEquals('n', '3')(c)).toBe(false);
    expect(metadataEquals('n', 3)(c)).toBe(true);
    expect(metadataIn('source', ['admin', 'erp'])(c)).toBe(true);
    expect(metadataIn('source', ['admin', 'mobile'])(c)).toBe(false);
    expect(metadataEquals('missing', 'x')(c)).toBe(false);
  });

  it('compose with variadic and/or/not, nil-safe', () => {
    expect(and(eventType('PriceChanged'), fieldsAnyOf('price'), undefined, null)(c)).toBe(true);
    expect(and(eventType('PriceChanged'), fieldsAnyOf('stock'))(c)).toBe(false);
    expect(or(eventType('X'), null, fieldsAnyOf('price'))(c)).toBe(true);
    expect(or()(c)).toBe(false);
    expect(and()(c)).toBe(true);
    expect(not(eventType('X'))(c)).toBe(true);
    expect(not(eventType('PriceChanged'))(c)).toBe(false);
    expect(not(undefined)(c)).toBe(true);
    // absent conflict, metadata or origin: false, never a throw
    expect(eventType('PriceChanged')(undefined)).toBe(false);
    expect(not(eventType('X'))(undefined)).toBe(false);
    const bare = makeConflict();
    expect(metadataEquals('source', 'erp')(bare)).toBe(false);
    expect(origin('erp-1')(bare)).toBe(false);
  });
});
