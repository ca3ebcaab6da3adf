import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node } from 'yaml';

/** Where a problem is in the policy file, 1-based. */
export interface Location {
  readonly line: number;
  readonly column: number;
}

/** A parse error of the file itself, with its place. */
export interface SyntaxProblem extends Location {
  readonly message: string;
}

/** Maps a problem's path (`rules[2].resolution.strategy`, `fields["*"]`) to a place in the file. */
export interface PolicyLocator {
  /** Errors the YAML (or JSON) parser found; the policy cannot be checked further. */
  readonly syntax: readonly SyntaxProblem[];
  /**
   * The node the path names or, when it is absent, its deepest present ancestor; with `key`, the key
   * of the last segment (for a problem with the key itself, such as an unknown key).
   */
  locate(path: string, options?: { readonly key?: boolean }): Location | undefined;
}

type Segment = string | number;

const SEGMENT = /\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/** The keys and indices of a problem path; undefined when it is not one core writes. */
export const pathSegments = (path: string): Segment[] | undefined => {
  const segments: Segment[] = [];
  SEGMENT.lastIndex = 0;
  while (SEGMENT.lastIndex < path.length) {
    const match = SEGMENT.exec(path);
    if (match === null) return undefined;
    const [, key, index, quoted] = match;
    if (key !== undefined) segments.push(key);
    else if (index !== undefined) segments.push(Number(index));
    else if (quoted !== undefined) segments.push(JSON.parse(quoted) as string);
  }
  return segments;
};

/** The child of a map (by key) or sequence (by index); for a map, the key node when there is no value. */
const child = (node: unknown, segment: Segment, key: boolean): Node | undefined => {
  if (isMap(node)) {
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
    if (pair === undefined) return undefined;
    if (!key && isNode(pair.value)) return pair.value;
    return isNode(pair.key) ? pair.key : undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return isNode(item) ? item : undefined;
  }
  return undefined;
};

/** Reads a YAML or JSON policy text for locating problems (JSON is parsed as the YAML it also is). */
export const policyLocator = (text: string): PolicyLocator => {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): Location => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  return {
    syntax: document.errors.map((error) => ({ ...at(error.pos[0]), message: error.message })),
    locate(path, options = {}) {
      const segments = pathSegments(path) ?? [];
      let node: Node | undefined = isNode(document.contents) ? document.contents : undefined;
      for (const [i, segment] of segments.entries()) {
        const next = child(node, segment, options.key === true && i === segments.length - 1);
        if (next === undefined) break;
        node = next;
      }
      const start = node?.range?.[0];
      return start === undefined ? undefined : at(start);
    },
  };
};
