/**
 * Errors that say the infrastructure behind a handler is unreachable for now — Postgres restarting or
 * refusing connections, a connection reset — rather than that the message is bad. Retrying such an
 * error uses up no attempt: a message must not be dead-lettered because the database was restarting.
 */
const OUTAGE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const OUTAGE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
const OUTAGE_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'the database system is',
  'terminating connection',
];

const isOutageOne = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (OUTAGE_SQLSTATES.has(code) || code.startsWith('08') || OUTAGE_NODE_CODES.has(code))
  )
    return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && OUTAGE_MESSAGES.some((text) => message.includes(text));
};

/** True when the error, or an error it was caused by, is an outage of the infrastructure. */
export const isOutage = (error: unknown): boolean => {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    if (isOutageOne(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
};
