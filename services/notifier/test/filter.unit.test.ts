import { isConcordError } from '@concord/core';
import { Topics } from '@concord/core/messages';
import { describe, expect, it } from 'vitest';
import { compileFilter, filterFromQuery, parseFilter } from '../src/filter.js';
import type { FilterSubject } from '../src/filter.js';

const applied: FilterSubject = {
  topic: Topics.applied,
  eventType: 'TaskUpdated',
  aggregateType: 'task',
  aggregateId: 'task-42',
  outcome: 'merged',
};
const projected: FilterSubject = { topic: Topics.projected, aggregateType: 'task', aggregateId: 'task-42' };
const outcome: FilterSubject = {
  topic: Topics.outcome,
  aggregateType: 'note',
  aggregateId: 'note-7',
  outcome: 'rejected',
};

const matcher = (filter: unknown) => compileFilter(parseFilter(filter));

describe('notification filters', () => {
  it('matches everything when empty or absent', () => {
    for (const subject of [applied, projected, outcome]) {
      expect(matcher(undefined)(subject)).toBe(true);
      expect(matcher({})(subject)).toBe(true);
    }
  });

  it('ORs entries within a list and ANDs the lists', () => {
    const filter = matcher({ eventTypes: ['TaskCreated', 'TaskUpdated'], aggregateTypes: ['task'] });
    expect(filter(applied)).toBe(true);
    expect(filter({ ...applied, eventType: 'TaskDeleted' })).toBe(false);
    expect(filter({ ...applied, aggregateType: 'note' })).toBe(false);
  });

  it('matches aggregate ids by exact id, glob and re: regex', () => {
    expect(matcher({ aggregateIds: ['task-42'] })(applied)).toBe(true);
    expect(matcher({ aggregateIds: ['task-*'] })(applied)).toBe(true);
    expect(matcher({ aggregateIds: ['task-4?'] })(applied)).toBe(true);
    expect(matcher({ aggregateIds: ['task-4'] })(applied)).toBe(false);
    expect(matcher({ aggregateIds: ['note-*'] })(applied)).toBe(false);
    expect(matcher({ aggregateIds: ['re:^task-\\d+$'] })(applied)).toBe(true);
    expect(matcher({ aggregateIds: ['re:^task-\\d$'] })(applied)).toBe(false);
  });

  it('filters by outcome and topic; a notification without the attribute does not match', () => {
    expect(matcher({ outcomes: ['merged', 'applied'] })(applied)).toBe(true);
    expect(matcher({ outcomes: ['rejected'] })(outcome)).toBe(true);
    expect(matcher({ outcomes: ['rejected'] })(applied)).toBe(false);
    expect(matcher({ outcomes: ['applied'] })(projected)).toBe(false);
    expect(matcher({ topics: [Topics.outcome] })(outcome)).toBe(true);
    expect(matcher({ topics: [Topics.outcome] })(applied)).toBe(false);
    expect(matcher({ eventTypes: ['TaskUpdated'] })(outcome)).toBe(false);
  });

  it('rejects malformed filters with CONCORD_FILTER_INVALID and the path of each problem', () => {
    for (const bad of [
      { outcomes: ['exploded'] },
      { topics: ['concord.events.submit'] },
      { eventTypes: [] },
      { eventTypes: 'TaskUpdated' },
      { aggregateIds: ['re:(unclosed'] },
      { colour: ['red'] },
      [],
    ]) {
      try {
        parseFilter(bad);
        expect.unreachable(JSON.stringify(bad));
      } catch (error) {
        expect(isConcordError(error) && error.code, JSON.stringify(bad)).toBe('CONCORD_FILTER_INVALID');
      }
    }
  });

  // Issue 16: any client's stream or subscription filter runs on every notification; a backtracking
  // pattern held the event loop for seconds per notification.
  it('matches hostile globs and regexes on 200-character ids without blocking', () => {
    const filter = matcher({
      aggregateIds: [
        're:^(a+)+$',
        're:^(.*a){12}x',
        ...Array.from({ length: 10 }, (_, i) => `${'*a'.repeat(6 + i)}*b`),
      ],
    });
    const idOf = (length: number) => ({ ...applied, aggregateId: `${'a'.repeat(length - 1)}!` });
    // Backtracking took seconds on 26 characters (and hours on 200).
    let start = performance.now();
    expect(filter(idOf(26))).toBe(false);
    expect(performance.now() - start).toBeLessThan(250);
    start = performance.now();
    let matched = 0;
    for (let i = 0; i < 20; i += 1) if (filter(idOf(200))) matched += 1;
    expect(matched).toBe(0);
    expect(performance.now() - start).toBeLessThan(250);
    expect(filter({ ...applied, aggregateId: 'aaab' })).toBe(false);
    expect(filter({ ...applied, aggregateId: 'aaaaaaaaaaaaab' })).toBe(true);
  });

  it('refuses unsafe, oversized and too many patterns with CONCORD_FILTER_INVALID', () => {
    const refusals = [
      { aggregateIds: ['re:^(x)\\1$'] },
      { aggregateIds: ['re:^(?=x)'] },
      { aggregateIds: ['re:[a-z]{1000}'] },
      { aggregateIds: [`task-${'x'.repeat(300)}*`] },
      { aggregateIds: Array.from({ length: 33 }, (_, i) => `task-${i}-*`) },
    ];
    for (const bad of refusals) {
      expect(() => parseFilter(bad), JSON.stringify(bad).slice(0, 60)).toThrowError(
        expect.objectContaining({ code: 'CONCORD_FILTER_INVALID' }) as Error,
      );
    }
    expect(() => filterFromQuery({ aggregateIds: 're:^(x)\\1$' })).toThrowError(
      expect.objectContaining({ code: 'CONCORD_FILTER_INVALID' }) as Error,
    );
  });

  it('reads query parameters: comma lists, repeats, and re: patterns kept whole', () => {
    expect(
      filterFromQuery({
        eventTypes: 'TaskCreated,TaskUpdated',
        aggregateIds: ['task-*', 're:^n-\\d{1,3}$'],
        outcomes: 'applied',
        unrelated: 'x',
      }),
    ).toEqual({
      eventTypes: ['TaskCreated', 'TaskUpdated'],
      aggregateIds: ['task-*', 're:^n-\\d{1,3}$'],
      outcomes: ['applied'],
    });
    expect(filterFromQuery({})).toEqual({});
  });
});
