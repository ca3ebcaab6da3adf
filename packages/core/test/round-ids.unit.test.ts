import { describe, expect, it } from 'vitest';
import { validateEvent } from '@concord/core/envelope';
import {
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_REOPENS,
  MessageIds,
  OUTCOMES,
  derivedMessageIds,
  roundChangeEventId,
} from '@concord/core/messages';
import { MAX_TENANT_LENGTH } from '@concord/core/envelope';

const envelope = (id: string) => ({
  id,
  type: 'T',
  aggregateType: 'task',
  aggregateId: 't1',
  data: { a: 1 },
});

describe('ids of a reopened conflict’s rounds', () => {
  it('give each round its own change and message ids, round 0 keeping its own', () => {
    expect(roundChangeEventId('e3', 1, 'reopen')).toBe('e3:reopen:1');
    expect(roundChangeEventId('e3', 1, 'review')).toBe('e3:review:1');
    expect(MessageIds.resolved('e3', 'resolved')).toBe('e3:resolved');
    expect(MessageIds.outcome('e3', 'resolved', 0)).toBe('e3:outcome:resolved');
    const ids = [1, 2, 10].flatMap((round) =>
      OUTCOMES.flatMap((o) => [MessageIds.resolved('e3', o, round), MessageIds.outcome('e3', o, round)]),
    );
    const round0 = OUTCOMES.flatMap((o) => [MessageIds.resolved('e3', o), MessageIds.outcome('e3', o)]);
    expect(new Set([...ids, ...round0]).size).toBe(ids.length + round0.length);
  });

  it('fit the bus for the longest event id and the last round', () => {
    const longest = 'e'.repeat(MAX_ID_LENGTH);
    const ids = derivedMessageIds(longest);
    expect(ids).toContain(`${longest}:reopen:${MAX_REOPENS}:applied:projected`);
    expect(ids).toContain(`${longest}:outcome:pending_review:${MAX_REOPENS}`);
    expect(Math.max(...ids.map((id) => id.length))).toBeLessThanOrEqual(MAX_MESSAGE_ID_LENGTH);
    expect(MAX_MESSAGE_ID_LENGTH).toBe(
      MAX_TENANT_LENGTH + 1 + MAX_ID_LENGTH + ':provisional:applied:projected'.length,
    );
  });

  it('can never be taken by a submitted event', () => {
    for (const id of ['e3:reopen:1', 'e3:review:9999', 'x:y:reopen:12']) {
      expect(validateEvent(envelope(id))).toMatchObject({ ok: false, problems: [{ path: 'id' }] });
    }
    for (const id of ['e3:reopen', 'e3:reopen:x', 'e3:reopened:1', 'e3:review:1:a']) {
      expect(validateEvent(envelope(id)).ok).toBe(true);
    }
  });
});
