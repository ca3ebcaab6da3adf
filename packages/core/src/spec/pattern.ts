import { ConcordError } from '../errors.js';

/** A compiled id matcher: exact ids in a set, globs and `re:` regexes compiled once. */
export type IdMatcher = (id: string) => boolean;

const escape = (text: string): string => text.replace(/[.+^${}()|[\]\\/]/g, '\\$&');

/** Compile a glob (`*` any run, `?` one character) to an anchored regex. */
export const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${escape(glob).replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');

/** The kind of one id pattern: `re:<regex>`, a glob (contains `*` or `?`), or an exact id. */
export const patternKind = (pattern: string): 'regex' | 'glob' | 'exact' =>
  pattern.startsWith('re:') ? 'regex' : /[*?]/.test(pattern) ? 'glob' : 'exact';

/**
 * Compile id patterns into one matcher. Throws `CONCORD_SPEC_INVALID` for a regex that does not compile.
 * Regexes are not anchored implicitly: write `^…$` to match a whole id.
 */
export const compileIdPatterns = (patterns: readonly string[]): IdMatcher => {
  const exact = new Set<string>();
  const regexes: RegExp[] = [];
  for (const pattern of patterns) {
    const kind = patternKind(pattern);
    if (kind === 'exact') exact.add(pattern);
    else if (kind === 'glob') regexes.push(globToRegExp(pattern));
    else {
      try {
        regexes.push(new RegExp(pattern.slice(3), 's'));
      } catch (cause) {
        throw new ConcordError(
          'CONCORD_SPEC_INVALID',
          `invalid regex "${pattern.slice(3)}": ${String(cause)}`,
          {
            cause,
          },
        );
      }
    }
  }
  if (regexes.length === 0) {
    if (exact.size === 1) {
      const only = [...exact][0];
      return (id) => id === only;
    }
    return (id) => exact.has(id);
  }
  return (id) => {
    if (exact.has(id)) return true;
    for (const regex of regexes) if (regex.test(id)) return true;
    return false;
  };
};

/** Membership test over a small list of strings, specialised for one value. */
export const compileOneOf = (values: readonly string[]): ((value: string | undefined) => boolean) => {
  if (values.length === 1) {
    const only = values[0];
    return (value) => value === only;
  }
  const set = new Set(values);
  return (value) => value !== undefined && set.has(value);
};
