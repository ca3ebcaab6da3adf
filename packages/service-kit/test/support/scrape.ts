import type { Registry } from 'prom-client';

/** One sample of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape of `registry`: each metric's declared type and every sample. */
export interface Scrape {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text format prom-client writes (`# TYPE` lines and samples; label values unescaped). */
export const parseExposition = (text: string): Scrape => {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
    const sample = SAMPLE.exec(line);
    if (sample?.[1] === undefined || sample[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (sample[2] ?? '').matchAll(LABEL)) {
      if (key !== undefined && raw !== undefined)
        labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return {
    types,
    samples,
    value: (name, wanted = {}) =>
      samples.find((s) => s.name === name && Object.entries(wanted).every(([k, v]) => s.labels[k] === v))
        ?.value,
  };
};

export const scrape = async (registry: Registry): Promise<Scrape> =>
  parseExposition(await registry.metrics());
