import type { Logger } from '@concord/core';

/** A Logger printing to stderr, for debugging tests. */
export const consoleLogger = (bindings: Record<string, unknown> = {}): Logger => ({
  debug: (obj, msg) => console.error('DEBUG', msg, bindings, obj),
  info: (obj, msg) => console.error('INFO', msg, bindings, obj),
  warn: (obj, msg) => console.error('WARN', msg, bindings, obj),
  error: (obj, msg) => console.error('ERROR', msg, bindings, obj),
  child: (more) => consoleLogger({ ...bindings, ...more }),
});
