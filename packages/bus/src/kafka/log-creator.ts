import type { Logger } from '@concord/core';
import { logLevel } from 'kafkajs';
import type { LogEntry, logCreator } from 'kafkajs';

/**
 * kafkajs warns about this whenever an idempotent producer has bounded retries. Concord bounds them on
 * purpose (a publish must fail rather than hang) and replaces the producer after a failed send, so a
 * retried batch never reuses sequence numbers; the warning is noise here and goes to debug.
 */
const EXPECTED_WARNINGS = ['Limiting retries for the idempotent producer'];

/**
 * Routes kafkajs's log lines to Concord's injected {@link Logger}. kafkajs's INFO lines (joins, pauses,
 * connections) are operational chatter and go to debug; warnings and final errors keep their level.
 */
export const kafkaLogCreator =
  (logger: Logger): logCreator =>
  () =>
  ({ namespace, level, log }: LogEntry): void => {
    const { message, timestamp: _timestamp, logger: _source, ...fields } = log;
    const entry = { kafkajs: namespace, ...fields };
    // kafkajs logs a failed attempt it is about to retry (it carries `retryCount`) as an error; it is
    // a warning until the retries run out.
    const retrying = 'retryCount' in fields && !message.startsWith('Crash');
    if (level === logLevel.ERROR && !retrying) logger.error(entry, message);
    else if (level === logLevel.ERROR) logger.warn(entry, message);
    else if (level === logLevel.WARN && !EXPECTED_WARNINGS.some((text) => message.startsWith(text))) {
      logger.warn(entry, message);
    } else logger.debug(entry, message);
  };
