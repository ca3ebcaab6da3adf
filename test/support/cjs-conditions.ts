/**
 * The root Vitest config starts workers with `--conditions import`, so a CommonJS `require()` of a
 * dual package (pg → pg-pool) gets the ESM namespace instead of the class and `pg` breaks. This hook
 * resolves `require()` calls without that condition. Every integration project loads it first
 * (`setupFiles` in vitest.config.ts).
 * Production processes (`node --conditions=source`) are unaffected.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (context.conditions.includes('require') && context.conditions.includes('import')) {
      return nextResolve(specifier, {
        ...context,
        conditions: context.conditions.filter((condition) => condition !== 'import'),
      });
    }
    return nextResolve(specifier, context);
  },
});
