import fc from 'fast-check';

/**
 * Generators of hostile submissions, as a hostile client writes them: odd unicode (U+0000, lone
 * surrogates, bidi and BOM characters, astral pairs), members named `__proto__`/`constructor`/
 * `prototype`, nesting past the depth limit, numbers past the float range, wrong types, long ids,
 * CloudEvents, unknown members. Each event is JSON text with placeholders: {@link PREFIX} stands for a
 * per-submission prefix (so one generated batch can go over HTTP and the broker under different ids of
 * the same length), `"⟦HUGE⟧"` for `1e400` and `"⟦DEEP:n⟧"` for n nested arrays — text that
 * `JSON.stringify` of a value cannot express.
 */
export const PREFIX = '⟦P⟧';

/** A generated event: its JSON text (with placeholders), and what is known of it when it is valid. */
export interface HostileEvent {
  readonly text: string;
  /** Set for valid events: id suffix and data; they must be applied and found again by id, data intact. */
  readonly valid?: { readonly id: string; readonly data: unknown };
}

const odd = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udfff',
  '\udbff\udfff',
  '😀',
  '\u202e',
  '\ufeff',
  '\u0085',
  '\u2028',
  ' ',
  '\t',
  '\n',
  'é',
  '"',
  '\\',
  '%00',
  '__proto__',
);

/** Text mixing ordinary characters and the odd ones above. */
const text = (maxParts = 6): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 5 }) }, { weight: 2, arbitrary: odd }), {
      maxLength: maxParts,
    })
    .map((parts) => parts.join(''));

const reservedKey = fc.constantFrom('__proto__', 'constructor', 'prototype');

const key = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: reservedKey },
  { weight: 1, arbitrary: text(3) },
);

/** A JSON leaf as text-to-be: odd strings, huge or tiny numbers, booleans, null. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: text() },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constant('⟦HUGE⟧') },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null, 1.2345678901234568e22, -0, 5e-324) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 120 }).map((n) => `⟦DEEP:${n}⟧`) },
);

/** Objects built with `Object.fromEntries`, so a `__proto__` key is an own member, as JSON.parse makes it. */
const object = (value: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> =>
  fc.array(fc.tuple(key, value), { maxLength: 5 }).map((entries) => Object.fromEntries(entries));

const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    object(tie('value')),
  ),
})).value;

/**
 * An id-like member: usually usable, sometimes long, odd, empty or of the wrong type. The event's index
 * is in every usable form, so no two events of a batch share an aggregate (nothing conflicts).
 */
const idLike = (usable: string, index: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(usable) },
    { weight: 1, arbitrary: fc.constant(`${usable}:outcome`) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 180, max: 260 }).map((n) => `${PREFIX}${index}${'x'.repeat(n)}`),
    },
    { weight: 1, arbitrary: text(4).map((t) => `${PREFIX}${index}${t}`) },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', 42, null, ['a'], { id: 1 }) },
  );

/** Members of an event beside the id-like ones: optional, often hostile. */
const extras = fc.record(
  {
    baseVersion: fc.oneof(fc.constantFrom(0, 1, 7, -1, 1.5, '3', '⟦HUGE⟧', 2 ** 53), fc.nat()),
    clock: fc.oneof(object(fc.integer({ min: -1, max: 10 })), fc.constant('phone:1')),
    hlc: fc.oneof(fc.constant('001700000000000-000000-phone'), text(3)),
    origin: fc.oneof(fc.constant('phone-a'), text(3)),
    metadata: fc.oneof(object(leaf), fc.constant('{"tenant":"acme"}')),
    unknownMember: json,
  },
  { requiredKeys: [] },
);

const placeholders = (value: unknown): string =>
  JSON.stringify(value)
    .replaceAll('"⟦HUGE⟧"', '1e400')
    .replace(/"⟦DEEP:(\d+)⟧"/g, (_, n: string) => `${'['.repeat(Number(n))}${']'.repeat(Number(n))}`);

/** One hostile event, number `index` of its batch (its aggregate is its own, so nothing conflicts). */
const hostileEvent = (index: number): fc.Arbitrary<HostileEvent> =>
  fc
    .record({
      id: idLike(`${PREFIX}h${index}`, index),
      type: idLike('TaskUpdated', index),
      aggregateType: idLike('task', index),
      aggregateId: idLike(`${PREFIX}agg-${index}`, index),
      data: fc.oneof({ weight: 5, arbitrary: object(json) }, { weight: 1, arbitrary: json }),
      extras,
      cloud: fc.boolean(),
    })
    .map(({ id, type, aggregateType, aggregateId, data, extras: more, cloud }) => {
      const { unknownMember, ...members } = more;
      const event = cloud
        ? { specversion: '1.0', id, source: 'fuzz', type, subject: aggregateId, aggregatetype: aggregateType }
        : { id, type, aggregateType, aggregateId };
      const withExtras: Record<string, unknown> = { ...event, ...members, data };
      if (unknownMember !== undefined) withExtras['unknown'] = unknownMember;
      return { text: placeholders(withExtras) };
    });

/** A valid event among the hostile ones: it must be applied and found again by id. */
const control = (index: number): HostileEvent => {
  const data = { title: `kept ${index}`, n: index };
  const id = `ok${index}`;
  return {
    text: JSON.stringify({
      id: `${PREFIX}${id}`,
      type: 'TaskUpdated',
      aggregateType: 'task',
      aggregateId: `${PREFIX}ok-agg-${index}`,
      data,
    }),
    valid: { id, data },
  };
};

/** Storable odd text: astral pairs, bidi, BOM, separators, quotes, escapes — no U+0000, no lone surrogate. */
const storableText = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 5 }),
      fc.constantFrom('😀', '\u202e', '\ufeff', '\u0085', '\u2028', '"', '\\', '%00', 'é', '\t', '\u0001'),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

const storableKey = storableText.filter(
  (k) => k !== '' && k !== '__proto__' && k !== 'constructor' && k !== 'prototype',
);

/** Valid but odd data: storable odd text, extreme finite numbers, nesting within the limit. */
const oddValidData = fc.dictionary(
  storableKey,
  fc.oneof(
    storableText,
    fc.constantFrom(1.2345678901234568e22, 5e-324, -1.7976931348623157e308, 0.1, 2 ** 53 + 2),
    fc.integer({ min: 1, max: 60 }).map((n) => {
      let value: unknown = 'bottom';
      for (let i = 1; i < n; i++) value = [value];
      return value;
    }),
  ),
  { maxKeys: 5, noNullPrototype: true },
);

/** A valid event with odd content, as envelope or CloudEvent: applied, and found again with its data. */
const oddValidEvent = (index: number): fc.Arbitrary<HostileEvent> =>
  fc.record({ data: oddValidData, cloud: fc.boolean(), type: storableText }).map(({ data, cloud, type }) => {
    const id = `v${index}`;
    const common = { id: `${PREFIX}${id}`, type: `T${type.replace(/\p{Cc}|\s/gu, '')}`, data };
    const event = cloud
      ? {
          specversion: '1.0',
          source: 'fuzz',
          subject: `${PREFIX}agg-${index}`,
          aggregatetype: 'task',
          ...common,
        }
      : { aggregateType: 'task', aggregateId: `${PREFIX}agg-${index}`, ...common };
    return { text: JSON.stringify(event), valid: { id, data } };
  });

/** A batch of hostile events with one or two valid controls among them. */
export const hostileBatch: fc.Arbitrary<readonly HostileEvent[]> = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 2 }))
  .chain(([hostile, controls]) =>
    fc
      .tuple(
        fc.tuple(
          ...Array.from({ length: hostile + 1 }, (_, i) =>
            fc.oneof({ weight: 2, arbitrary: hostileEvent(i) }, { weight: 1, arbitrary: oddValidEvent(i) }),
          ),
        ),
        fc.nat({ max: hostile }),
      )
      .map(([events, at]) => {
        const list: HostileEvent[] = events.slice(0, hostile);
        for (let c = 0; c < controls; c++) list.splice(Math.min(at + c, list.length), 0, control(c));
        return list;
      }),
  );

/** The JSON text of a batch, with `prefix` for the placeholder. */
export const batchText = (events: readonly HostileEvent[], prefix: string): string =>
  `{"events":[${events.map((e) => e.text.replaceAll(PREFIX, prefix)).join(',')}]}`;

/** Bodies that are not a batch at all. */
export const garbageBody: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  json.map(placeholders),
  fc.constantFrom('', '{', '{"events":', '{"events":{}}', 'null', '[]', '{"events":[1,2,"x",null]}'),
  fc.constantFrom(
    '{"__proto__":{"events":[]}}',
    '{"events":[],"__proto__":1}',
    '{"constructor":{"prototype":{}}}',
  ),
);
