import { getOptional, postJson } from '../http.js';
import type { AggregateView, StoredEventView } from '../scenario-events.js';
import type { Dependencies } from '../stack.js';
import { WebhookReceiver } from '../webhook-receiver.js';
import type { Deployed, Service } from './build.js';
import { restartBroker, restartPostgres } from './chaos.js';
import { check } from './checker.js';
import type { CheckReport, Urls } from './checker.js';
import { Deployment } from './deployment.js';
import type { Broker } from './deployment.js';
import type { DeployedInstance } from './instance.js';
import { Submitter } from './submitter.js';
import { Timeline, metricSum, seededRandom, shuffle } from './timeline.js';
import { conflictPairs, hotCreates, totalEvents, writer } from './workload.js';
import type { WorkloadShape } from './workload.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const urlsOf = (deployment: Deployment): Urls => {
  let n = 0;
  const next = (service: Service) => () => deployment.url(service, (n += 1));
  return {
    ingest: next('ingest'),
    resolver: next('resolver'),
    projector: next('projector'),
    notifier: next('notifier'),
  };
};

/** Rows the running ingest instances' relays have published (their `/metrics`). */
const publishedByIngest = async (deployment: Deployment): Promise<number> => {
  const pages = await Promise.all(
    deployment
      .of('ingest')
      .filter((instance) => instance.ready)
      .map(async (instance) => (await fetch(`${instance.url}/metrics`)).text()),
  );
  return pages.reduce((sum, page) => sum + metricSum(page, 'concord_relay_published_total'), 0);
};

/**
 * Messages each running consumer instance handled since it (last) started, by instance name (their
 * `/metrics`): with two instances of a service, both must have had a share of the work.
 */
const handledByInstance = async (deployment: Deployment): Promise<Record<string, number>> => {
  const consumers = (['resolver', 'projector', 'notifier'] as const).flatMap((service) =>
    deployment.of(service).filter((instance) => instance.ready),
  );
  const counts = await Promise.all(
    consumers.map(async (instance) => {
      const page = await (await fetch(`${instance.url}/metrics`)).text();
      return [instance.name, metricSum(page, 'concord_consumer_messages_total')] as const;
    }),
  );
  return Object.fromEntries(counts);
};

/**
 * Waits at least `minMs`, and until ingest's relays published `rows` (or `maxMs` passed): the
 * consumers then start after the first publishes, as in a deployment that starts ingest first.
 */
const afterFirstPublishes = async (deployment: Deployment, rows: number, minMs: number, maxMs: number) => {
  const began = Date.now();
  let published = 0;
  while (Date.now() - began < maxMs) {
    published = await publishedByIngest(deployment).catch(() => published);
    if (published >= rows && Date.now() - began >= minMs) break;
    await sleep(200);
  }
  return published;
};

export interface ReproReport {
  readonly conflicts: number;
  readonly resolved: number;
  readonly projected: number;
  readonly publishedBeforeConsumers: number;
  readonly check: CheckReport;
  readonly durationMs: number;
}

/**
 * The first repro: one instance of each service; ingest alone takes `pairs` tasks and two
 * `tags` edits of each on version 1; the resolver, projector and notifier start 3 s later (once
 * ingest's relay has published). Every conflict must be resolved and every task projected with both tags.
 */
export const runRepro = async (options: {
  readonly broker: Broker;
  readonly deps: Dependencies;
  readonly deployed: Deployed;
  readonly pairs: number;
  readonly settleMs: number;
}): Promise<ReproReport> => {
  const began = Date.now();
  const deployment = await Deployment.create({ ...options, instances: 1, label: 'repro' });
  try {
    await deployment.instance('ingest-1').start();
    const urls = urlsOf(deployment);
    const submitter = new Submitter(() => [deployment.url('ingest')]);
    const pairs = conflictPairs('pair', options.pairs);
    await submitter.submit(pairs.creates);
    const edits = await submitter.submit(pairs.edits);
    const conflicts = edits.filter((r) => r.outcome === 'conflict').length;
    // Each create and applied edit: applied + outcome; each conflict: detected + outcome.
    const published = await afterFirstPublishes(deployment, options.pairs * 6, 3_000, 15_000);
    await Promise.all(
      ['resolver-1', 'projector-1', 'notifier-1'].map((name) => deployment.instance(name).start()),
    );
    const report = await check({
      urls,
      accepted: submitter.accepted,
      deadline: Date.now() + options.settleMs,
    });
    const views = await Promise.all(
      pairs.conflicting.map((id) => getOptional<StoredEventView>(`${urls.ingest()}/v1/events/${id}`)),
    );
    const projections = await Promise.all(
      pairs.aggregates.map((id) =>
        getOptional<AggregateView>(`${urls.projector()}/v1/aggregates/task/${id}`),
      ),
    );
    return {
      conflicts,
      resolved: views.filter((view) => view?.outcome === 'resolved').length,
      projected: projections.filter(
        (p) =>
          p?.version === 3 &&
          JSON.stringify([...((p.fields['tags'] as string[]) ?? [])].sort()) === '["a","b"]',
      ).length,
      publishedBeforeConsumers: published,
      check: report,
      durationMs: Date.now() - began,
    };
  } finally {
    await deployment.close();
  }
};

export interface ChaosReport extends CheckReport {
  readonly broker: Broker;
  readonly seed: number;
  readonly submitted: number;
  readonly rejectedAtSubmit: number;
  readonly unanswered: number;
  readonly submitRetries: number;
  /**
   * Processes that ended other than with 0 on the SIGTERM at the end: crashes during the run (e.g. on
   * the Postgres restart) included, the processes the run SIGKILLed not counted.
   */
  readonly uncleanExits: readonly string[];
  /** Messages each consumer instance handled since it last started (see {@link handledByInstance}). */
  readonly handled: Readonly<Record<string, number>>;
  readonly startOrder: readonly string[];
  readonly timeline: readonly string[];
  readonly durationMs: number;
}

/**
 * Two instances of each deployed service; ingest's instances first (in a random order), a prelude of
 * conflicting edits, then the consumers' six instances in a random order while `shape.writers`
 * writers submit through both ingest instances. At fixed fractions of the events: one instance of
 * each service SIGKILLed (20 %), the broker restarted (1/3), Postgres restarted (40 %), the broker
 * restarted again (1/2), the killed instances started again (60 %). Then the checker.
 */
export const runChaos = async (options: {
  readonly broker: Broker;
  readonly deps: Dependencies;
  readonly deployed: Deployed;
  readonly shape: WorkloadShape;
  readonly seed: number;
  readonly settleMs: number;
}): Promise<ChaosReport> => {
  const { broker, shape } = options;
  const random = seededRandom(options.seed);
  const timeline = new Timeline();
  const deployment = await Deployment.create({ ...options, instances: 2, label: 'chaos' });
  const receiver = new WebhookReceiver(`deployed-${deployment.run}`);
  await receiver.start();
  const killed = new Map<string, number>();
  try {
    const urls = urlsOf(deployment);
    const submitter = new Submitter(() => deployment.urls('ingest'));
    const prelude = conflictPairs('pre', 10);
    const total = totalEvents(shape) + prelude.creates.length + prelude.edits.length;

    const ingest = shuffle(deployment.of('ingest'), random);
    const consumers = shuffle(
      (['resolver', 'projector', 'notifier'] as const).flatMap((service) => deployment.of(service)),
      random,
    );
    const startOrder = [...ingest, ...consumers].map((instance) => instance.name);
    for (const instance of ingest) await timeline.step(`start ${instance.name}`, () => instance.start());
    await timeline.step('prelude: 10 tasks, 10 pairs of conflicting tags', async () => {
      await submitter.submit(prelude.creates);
      await submitter.submit(prelude.edits);
    });
    await timeline.step('ingest publishes the prelude', () =>
      afterFirstPublishes(deployment, 30, 1_000, 15_000),
    );

    let writers: Promise<unknown> | undefined;
    const startWriters = async () => {
      const subscription = {
        url: receiver.url,
        secret: receiver.secret,
        filter: { aggregateIds: ['w-*', 'hot-*'] },
      };
      await postJson(`${urls.notifier()}/v1/subscriptions`, subscription);
      await submitter.submit(hotCreates(shape));
      timeline.note(`${shape.writers} writers start`);
      writers = Promise.all(
        Array.from({ length: shape.writers }, (_, k) =>
          writer({ k, shape, submitter, random: seededRandom(options.seed + k + 1) }),
        ),
      ).then(() => timeline.note(`writers done: ${submitter.accepted.size} accepted`));
      // Awaited after the chaos steps; until then a writer's failure must not go unhandled.
      void writers.catch(() => undefined);
    };
    // The consumers' processes start in the random order, half a second apart, and get ready together;
    // the writers start as soon as a notifier can take their webhook subscription.
    const starts = consumers.map(async (instance, i) => {
      await sleep(i * 500);
      await timeline.step(`start ${instance.name}`, () => instance.start());
    });
    void Promise.allSettled(starts);
    await Promise.any(starts.filter((_, i) => consumers[i]?.name.startsWith('notifier-')));
    await startWriters();
    await Promise.all(starts);

    const at = async (fraction: number, what: string, step: () => Promise<unknown>) => {
      while (submitter.accepted.size < fraction * total && !(await settledOrFalse(writers))) await sleep(100);
      await timeline.step(`${what} at ${submitter.accepted.size}/${total} events`, step);
    };
    const victims: DeployedInstance[] = (['ingest', 'resolver', 'projector', 'notifier'] as const).map(
      (service) => shuffle(deployment.of(service), random)[0] as DeployedInstance,
    );
    await at(0.2, `SIGKILL ${victims.map((v) => v.name).join(', ')}`, async () => {
      await Promise.all(victims.map((victim) => victim.kill()));
      for (const victim of victims) killed.set(victim.name, (killed.get(victim.name) ?? 0) + 1);
    });
    await at(1 / 3, `restart ${broker}`, () => restartBroker(broker));
    await at(0.4, 'restart Postgres', () => restartPostgres());
    await at(1 / 2, `restart ${broker}`, () => restartBroker(broker));
    await at(0.6, `start ${victims.map((v) => v.name).join(', ')} again`, () =>
      Promise.all(victims.map((victim) => victim.start())),
    );
    await writers;

    const report = await timeline.step('check', () =>
      check({
        urls,
        accepted: submitter.accepted,
        receiver,
        subscribed: (aggregate) => /^task\/(w|hot)-/.test(aggregate),
        deadline: Date.now() + options.settleMs,
      }),
    );
    const handled = await handledByInstance(deployment);
    const exits = await timeline.step('SIGTERM every instance', () => deployment.close());
    const uncleanExits = Object.entries(exits).flatMap(([name, codes]) =>
      codes
        .slice(killed.get(name) ?? 0)
        .filter((code) => code !== 0)
        .map((code) => `${name} exited ${code} (log: ${deployment.instance(name).logFile})`),
    );
    return {
      broker,
      seed: options.seed,
      ...report,
      submitted: total,
      rejectedAtSubmit: submitter.rejected.length,
      unanswered: submitter.unanswered.length,
      submitRetries: submitter.retries,
      uncleanExits,
      handled,
      startOrder,
      timeline: timeline.entries,
      durationMs: timeline.elapsedMs,
    };
  } finally {
    await receiver.close();
    await deployment.close().catch(() => undefined);
  }
};

/** True once `promise` settled (resolved or rejected); false while it runs or when there is none yet. */
const settledOrFalse = async (promise: Promise<unknown> | undefined): Promise<boolean> => {
  if (promise === undefined) return false;
  const pending = Symbol('pending');
  const first = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    Promise.resolve(pending),
  ]);
  return first !== pending;
};
