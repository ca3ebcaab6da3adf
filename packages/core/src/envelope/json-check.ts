import { isPlainObject } from '../json.js';

/** Where a value is wrong, and why. */
export interface JsonFinding {
  readonly path: string;
  readonly why: string;
}

/** A finding of {@link findNonJson}: `tooDeep` when the value nests deeper than allowed. */
export interface NonJsonFinding extends JsonFinding {
  readonly tooDeep: boolean;
}

/**
 * Find the first place where `value` is not plain JSON (undefined, function, symbol, bigint, NaN,
 * Infinity, a cycle, a class instance), or where it nests more than `maxDepth` arrays and objects
 * (the value itself, when one, is level 1). Returns the path and why, or undefined when it is JSON.
 * Iterative: safe for any depth.
 */
export const findNonJson = (
  value: unknown,
  path: string,
  maxDepth = Number.POSITIVE_INFINITY,
): NonJsonFinding | undefined => {
  const walk = new Walk(value, path);
  // The containers on the path to the current value: meeting one again is a cycle.
  const open = new Set<object>();
  for (
    let node: WalkNode | undefined = walk.first();
    node !== undefined;
    node = walk.next((left) => open.delete(left))
  ) {
    const { value: v, path: at } = node;
    if (typeof v !== 'object' || v === null) {
      const why = primitiveProblem(v);
      if (why !== undefined) return { path: at, why, tooDeep: false };
      continue;
    }
    if (open.has(v)) return { path: at, why: 'contains a cycle', tooDeep: false };
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && !isPlainObject(v)) return { path: at, why: 'is not plain JSON', tooDeep: false };
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      return { path: at, why: 'is not a plain object', tooDeep: false };
    }
    if (walk.depth >= maxDepth) {
      return { path: at, why: `nests deeper than ${maxDepth} levels`, tooDeep: true };
    }
    open.add(v);
    walk.enter(v, at);
  }
  return undefined;
};

const primitiveProblem = (value: unknown): string | undefined => {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return `${typeof value} is not JSON`;
    case 'object':
      return undefined;
  }
};

/**
 * True when `text` holds U+0000 or an unpaired UTF-16 surrogate: it has no UTF-8 form (an encoder
 * silently replaces lone surrogates) and Postgres text and jsonb refuse U+0000.
 */
export const isUnstorableText = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed();

/**
 * Find the first string in plain JSON `value` (a string value or a member name) that is unstorable
 * text. Returns its path and why, or undefined. Expects `value` to have passed {@link findNonJson}.
 * Iterative: safe for any depth.
 */
export const findUnstorableText = (value: unknown, path: string): JsonFinding | undefined => {
  const walk = new Walk(value, path);
  for (let node: WalkNode | undefined = walk.first(); node !== undefined; node = walk.next()) {
    const { value: v, path: at, key } = node;
    if (key !== undefined && isUnstorableText(key)) return { path: at, why: `member name ${UNSTORABLE_WHY}` };
    if (typeof v === 'string') {
      if (isUnstorableText(v)) return { path: at, why: UNSTORABLE_WHY };
    } else if (typeof v === 'object' && v !== null) {
      walk.enter(v, at);
    }
  }
  return undefined;
};

const UNSTORABLE_WHY = 'holds U+0000 or an unpaired surrogate, which cannot be stored';

// eslint-disable-next-line no-control-regex -- U+0000 is what this finds
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with U+0000 and every unpaired surrogate written out as JSON writes them (`\u0000`, `\ud800`):
 * storable text that still shows what was sent. For echoes of text that was refused (an invalid event's
 * type, aggregate or error message in its `rejected` outcome), so every consumer can store the echo.
 */
export const escapeUnstorable = (text: string): string =>
  isUnstorableText(text)
    ? text.replace(UNSTORABLE, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : text;

/**
 * Member names that are not data in a JavaScript object: assigning `__proto__` replaces the prototype
 * (the member vanishes), and `constructor` and `prototype` read as inherited values where a record
 * lacks them. Concord refuses them as member names of an event's `data`, `metadata` and `clock`.
 */
export const RESERVED_MEMBER_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Find the first member of plain JSON `value`, at any depth, whose name is one of
 * {@link RESERVED_MEMBER_NAMES}. Returns its path and why, or undefined. Iterative: safe for any depth.
 */
export const findReservedMember = (value: unknown, path: string): JsonFinding | undefined => {
  const walk = new Walk(value, path);
  for (let node: WalkNode | undefined = walk.first(); node !== undefined; node = walk.next()) {
    const { value: v, path: at, key } = node;
    if (key !== undefined && RESERVED_MEMBER_NAMES.has(key)) {
      return { path: at, why: `member name "${key}" is reserved` };
    }
    if (typeof v === 'object' && v !== null) walk.enter(v, at);
  }
  return undefined;
};

/** One value met by a {@link Walk}: its path, and the member name holding it (none in an array). */
interface WalkNode {
  readonly value: unknown;
  readonly path: string;
  readonly key: string | undefined;
}

/** An array or object being walked: its members' names (none for an array) and the next one to visit. */
interface Frame {
  readonly container: object;
  readonly path: string;
  readonly keys: readonly string[] | undefined;
  readonly size: number;
  next: number;
}

/**
 * A depth-first walk in document order with an explicit stack instead of recursion, so a value nested
 * a million levels deep costs memory, not a stack overflow. `next()` visits the following value; a
 * container's members are visited only once the caller `enter`s it.
 */
class Walk {
  private readonly stack: Frame[] = [];

  constructor(
    private readonly root: unknown,
    private readonly rootPath: string,
  ) {}

  /** Containers entered on the way to the value just visited (0 for the root). */
  get depth(): number {
    return this.stack.length;
  }

  first(): WalkNode {
    return { value: this.root, path: this.rootPath, key: undefined };
  }

  /** Visit the members of `container` (the value just visited, at `path`) next. */
  enter(container: object, path: string): void {
    const keys = Array.isArray(container) ? undefined : Object.keys(container);
    const size = keys === undefined ? (container as unknown[]).length : keys.length;
    this.stack.push({ container, path, keys, size, next: 0 });
  }

  /** The next value, or undefined when the walk is over; `left` hears of each container finished. */
  next(left?: (container: object) => void): WalkNode | undefined {
    for (let top = this.stack.at(-1); top !== undefined; top = this.stack.at(-1)) {
      if (top.next < top.size) {
        const index = top.next++;
        if (top.keys === undefined) {
          return {
            value: (top.container as unknown[])[index],
            path: `${top.path}[${index}]`,
            key: undefined,
          };
        }
        const key = top.keys[index] ?? '';
        const value = (top.container as Record<string, unknown>)[key];
        return { value, path: memberPath(top.path, key), key };
      }
      this.stack.pop();
      left?.(top.container);
    }
    return undefined;
  }
}

const SIMPLE_KEY = /^[A-Za-z_$][\w$]*$/;

/** `parent.key`, or `parent["odd key"]` when the key is not a simple identifier. */
export const memberPath = (parent: string, key: string): string => {
  if (SIMPLE_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
};
