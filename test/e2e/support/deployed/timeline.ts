/** A seeded PRNG (mulberry32): the start order and the instances killed follow from the printed seed. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

export const shuffle = <T>(items: readonly T[], random: () => number): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/** What happened when, in seconds since the run began: printed with the counts. */
export class Timeline {
  readonly #began = Date.now();
  readonly entries: string[] = [];

  get elapsedMs(): number {
    return Date.now() - this.#began;
  }

  /** Runs `step`, noting when it began and how long it took. */
  async step<T>(what: string, step: () => Promise<T>): Promise<T> {
    const began = Date.now();
    const value = await step();
    this.entries.push(`${((began - this.#began) / 1_000).toFixed(1)}s ${what} (${Date.now() - began} ms)`);
    return value;
  }

  note(what: string): void {
    this.entries.push(`${(this.elapsedMs / 1_000).toFixed(1)}s ${what}`);
  }
}

/** Sum of a metric's samples in a Prometheus text page. */
export const metricSum = (text: string, name: string): number =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
