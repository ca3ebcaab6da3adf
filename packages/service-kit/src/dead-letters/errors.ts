import { defineErrors } from '@concord/core';

/** The dead-letter routes' codes (DESIGN §5 "Dead letters"). */
export const deadLetterErrors = defineErrors({
  DEAD_LETTER_NOT_FOUND: {
    code: 'CONCORD_DEAD_LETTER_NOT_FOUND',
    retryable: false,
    status: 404,
    message:
      "No dead letter of that kind with that id here: it never was, it was replayed already, or it is another service's (a bus dead letter of a group this service does not run).",
  },
  DEAD_LETTER_NOT_REPLAYABLE: {
    code: 'CONCORD_DEAD_LETTER_NOT_REPLAYABLE',
    retryable: false,
    status: 409,
    message:
      'The dead letter is there but cannot be replayed: a webhook delivery whose subscription was deleted, or whose notification the log no longer holds (`details.reason`). It stays listed.',
  },
  DEAD_LETTER_KIND_UNAVAILABLE: {
    code: 'CONCORD_DEAD_LETTER_KIND_UNAVAILABLE',
    retryable: false,
    status: 404,
    message:
      "This service keeps no dead letters of that kind: webhook dead letters are the notifier's (`details.kinds` lists what it keeps).",
  },
});
