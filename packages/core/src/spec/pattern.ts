import { RE2JS } from 're2js';
import { ConcordError, coreErrors } from '../errors.js';

/** A compiled id matcher: exact ids in a set, globs and `re:` regexes compiled once. */
export type IdMatcher = (id: string) => boolean;

/**
 * Limits of one pattern list (a policy condition's `aggregate_ids`, a notification filter's
 * `aggregateIds`). Every pattern runs against every conflict or notification, so its cost is bounded by
 * construction: globs and regexes match in time linear in the id times the pattern, never backtracking.
 */
export const PATTERN_LIMITS = Object.freeze({
  /** Characters of one pattern, `re:` included (ids are at most 200). */
  maxLength: 256,
  /** Globs and regexes in one list; exact ids are set lookups and count only against the list's size. */
  maxWildcards: 32,
  /** RE2 program size of one regex (a rough count of its instructions; `^note-\d+$` is 11). */
  maxRegexProgram: 1_000,
});

/** The kind of one id pattern: `re:<regex>`, a glob (contains `*` or `?`), or an exact id. */
export const patternKind = (pattern: string): 'regex' | 'glob' | 'exact' =>
  pattern.startsWith('re:') ? 'regex' : /[*?]/.test(pattern) ? 'glob' : 'exact';

/** Does `segment` (literal characters and `?`) match `text` at `at`? */
const segmentAt = (segment: string, text: string, at: number): boolean => {
  for (let i = 0; i < segment.length; i += 1) {
    const expected = segment.charCodeAt(i);
    if (expected !== 63 /* ? */ && expected !== text.charCodeAt(at + i)) return false;
  }
  return true;
};

/** The leftmost place in `text[from, end)` where `segment` matches whole, or -1. */
const findSegment = (segment: string, text: string, from: number, end: number): number => {
  if (!segment.includes('?')) {
    const at = text.indexOf(segment, from);
    return at >= 0 && at + segment.length <= end ? at : -1;
  }
  for (let at = from; at + segment.length <= end; at += 1) if (segmentAt(segment, text, at)) return at;
  return -1;
};

/**
 * Compile a glob (`*` any run, `?` one character) to a matcher that never backtracks: the glob is cut
 * at its stars, the first piece must match at the start, the last at the end, and each piece between
 * them at its leftmost place after the previous one — the leftmost place leaves the most room to the
 * pieces after it, so no other placement needs trying. Work: at most the id's length times the glob's.
 */
export const compileGlob = (glob: string): IdMatcher => {
  const pieces = glob.split('*');
  const first = pieces[0] ?? '';
  if (pieces.length === 1) return (id) => id.length === first.length && segmentAt(first, id, 0);
  const last = pieces.at(-1) ?? '';
  const middle = pieces.slice(1, -1).filter((piece) => piece !== '');
  return (id) => {
    const end = id.length - last.length;
    if (end < first.length || !segmentAt(first, id, 0) || !segmentAt(last, id, end)) return false;
    let from = first.length;
    for (const piece of middle) {
      const at = findSegment(piece, id, from, end);
      if (at < 0) return false;
      from = at + piece.length;
    }
    return true;
  };
};

const invalid = (message: string, cause?: unknown): ConcordError =>
  new ConcordError(coreErrors.SPEC_INVALID, message, cause === undefined ? {} : { cause });

/**
 * Compile a `re:` regex with RE2 (linear-time matching, `.` matches newlines): RE2 syntax, so no
 * backreferences or lookarounds. Not anchored implicitly.
 */
const compileRegex = (source: string): IdMatcher => {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(source, RE2JS.DOTALL);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw invalid(
      `invalid regex "${source}": ${reason} (regexes use RE2 syntax, matched in linear time: no backreferences or lookarounds)`,
      cause,
    );
  }
  if (regex.programSize() > PATTERN_LIMITS.maxRegexProgram) {
    throw invalid(
      `regex "${source}" is too large (program size ${regex.programSize()}, at most ${PATTERN_LIMITS.maxRegexProgram}): use smaller repeat counts`,
    );
  }
  return (id) => regex.test(id);
};

/**
 * Compile id patterns into one matcher. Throws `CONCORD_SPEC_INVALID` for a regex that does not compile
 * or is too large, a pattern longer than `PATTERN_LIMITS.maxLength`, or more globs and regexes than
 * `PATTERN_LIMITS.maxWildcards`. Regexes are not anchored implicitly: write `^…$` to match a whole id.
 */
export const compileIdPatterns = (patterns: readonly string[]): IdMatcher => {
  const exact = new Set<string>();
  const matchers: IdMatcher[] = [];
  for (const pattern of patterns) {
    if (pattern.length > PATTERN_LIMITS.maxLength) {
      throw invalid(
        `pattern "${pattern.slice(0, 40)}…" is longer than ${PATTERN_LIMITS.maxLength} characters`,
      );
    }
    const kind = patternKind(pattern);
    if (kind === 'exact') exact.add(pattern);
    else matchers.push(kind === 'glob' ? compileGlob(pattern) : compileRegex(pattern.slice(3)));
  }
  if (matchers.length > PATTERN_LIMITS.maxWildcards) {
    throw invalid(`${matchers.length} globs and regexes in one list; at most ${PATTERN_LIMITS.maxWildcards}`);
  }
  if (matchers.length === 0) {
    if (exact.size === 1) {
      const only = [...exact][0];
      return (id) => id === only;
    }
    return (id) => exact.has(id);
  }
  return (id) => {
    if (exact.has(id)) return true;
    for (const matcher of matchers) if (matcher(id)) return true;
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
