import { isConcordError } from '@concord/core';
import { Topics } from '@concord/core/messages';
import { describe, expect, it } from 'vitest';
import { compileFilter, parseFilter } from '../src/filter.js';
import { toNotification } from '../src/notification.js';
import { appliedMessage, outcomeMessage } from './support/harness.js';

const malformedReason = (run: () => unknown): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(isConcordError(error) && error.code).toBe('CONCORD_MESSAGE_MALFORMED');
    expect(isConcordError(error) && error.retryable).toBe(false);
    return (error as Error).message;
  }
};

describe('toNotification', () => {
  it('maps an outcome message with its aggregate', () => {
    const payload = outcomeMessage('e-1', { outcome: 'merged' });
    expect(toNotification({ topic: Topics.outcome, messageId: 'e-1:outcome', payload })).toEqual({
      kind: 'outcome',
      topic: Topics.outcome,
      messageId: 'e-1:outcome',
      eventId: 'e-1',
      aggregateType: 'task',
      aggregateId: 'task-1',
      outcome: 'merged',
      data: payload,
    });
  });

  it('takes a rejected outcome without aggregate type or id: no aggregate attribute, filters on it do not match', () => {
    // Ingest publishes these for events rejected because they lack aggregateType or aggregateId.
    const rejected = (eventId: string, payload: unknown) =>
      toNotification({ topic: Topics.outcome, messageId: `${eventId}:outcome:rejected`, payload });
    const noType = rejected(
      'e-no-type',
      outcomeMessage('e-no-type', { aggregateType: '', outcome: 'rejected' }),
    );
    const noId = rejected('e-no-id', outcomeMessage('e-no-id', { aggregateId: '', outcome: 'rejected' }));
    const none = rejected('e-none', { kind: 'outcome', eventId: 'e-none', outcome: 'rejected', final: true });
    expect(noType).toMatchObject({ eventId: 'e-no-type', aggregateId: 'task-1', outcome: 'rejected' });
    expect(noType).not.toHaveProperty('aggregateType');
    expect(noId).toMatchObject({ eventId: 'e-no-id', aggregateType: 'task', outcome: 'rejected' });
    expect(noId).not.toHaveProperty('aggregateId');
    expect(none).not.toHaveProperty('aggregateType');
    expect(none).not.toHaveProperty('aggregateId');

    const matches = (filter: unknown) => compileFilter(parseFilter(filter));
    expect(matches({ outcomes: ['rejected'] })(noType)).toBe(true);
    expect(matches({})(none)).toBe(true);
    expect(matches({ aggregateIds: ['*'] })(noId)).toBe(false);
    expect(matches({ aggregateIds: ['*'] })(noType)).toBe(true);
    expect(matches({ aggregateTypes: ['task'] })(noType)).toBe(false);
  });

  it('refuses a message without an event id, and other topics without their aggregate', () => {
    expect(
      malformedReason(() =>
        toNotification({
          topic: Topics.outcome,
          messageId: 'm',
          payload: outcomeMessage('', { outcome: 'rejected' }),
        }),
      ),
    ).toBe('payload field eventId is required');
    expect(
      malformedReason(() =>
        toNotification({
          topic: Topics.applied,
          messageId: 'm',
          payload: appliedMessage('e-2', { aggregateId: '' }),
        }),
      ),
    ).toBe('payload field aggregateId is required');
    expect(
      malformedReason(() =>
        toNotification({
          topic: Topics.outcome,
          messageId: 'm',
          payload: outcomeMessage('e-3', { aggregateType: 7 as never }),
        }),
      ),
    ).toBe('payload field aggregateType must be a string');
  });
});
