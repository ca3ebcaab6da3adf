import { Topics, isFinalOutcome } from '@concord/core/messages';
import { describe, expect, it } from 'vitest';

describe('messages', () => {
  it('names the DESIGN §4 topics', () => {
    expect(Object.values(Topics).sort()).toEqual([
      'concord.aggregates.projected',
      'concord.conflicts.detected',
      'concord.conflicts.resolved',
      'concord.events.applied',
      'concord.events.outcome',
      'concord.events.submit',
    ]);
  });

  it('knows which outcomes are final', () => {
    expect(isFinalOutcome('applied')).toBe(true);
    expect(isFinalOutcome('conflict')).toBe(false);
    expect(isFinalOutcome('pending_review')).toBe(false);
  });
});
