/**
 * Compose's metrics stack, checked without a Docker engine: the compose file parses and its service graph
 * holds together, Prometheus scrapes the four services where compose runs them, Grafana's provisioning
 * points at that Prometheus and at the dashboard, and every series the dashboard queries is one the code
 * registers (a renamed metric fails here, not as an empty panel).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const infra = join(root, 'infra');
const read = (...path: string[]) => readFileSync(join(infra, ...path), 'utf8');

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly ports?: readonly string[];
  readonly volumes?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly depends_on?: Readonly<Record<string, unknown>> | readonly string[];
}

const compose = (): Record<string, ComposeService> => {
  const document = parseDocument(read('docker-compose.yml'), { merge: true });
  expect(document.errors).toEqual([]);
  return (document.toJS() as { services: Record<string, ComposeService> }).services;
};

const dependencies = (service: ComposeService): string[] =>
  Array.isArray(service.depends_on)
    ? [...(service.depends_on as readonly string[])]
    : Object.keys(service.depends_on ?? {});

/** The container port of a `host:port:container` (or `port:container`) mapping. */
const containerPort = (service: ComposeService): string => {
  const mapping = service.ports?.[0];
  if (mapping === undefined) throw new Error('no port mapping');
  return mapping.split(':').at(-1) ?? '';
};

const CONCORD_SERVICES = ['ingest', 'resolver', 'projector', 'notifier'];

/** Every `'concord_…'` metric name the packages and services register. */
const registeredMetrics = (): Set<string> => {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts'))
        for (const [, name] of readFileSync(path, 'utf8').matchAll(/'(concord_[a-z0-9_]+)'/g))
          if (name !== undefined) names.add(name);
    }
  };
  for (const group of ['packages', 'services'])
    for (const member of readdirSync(join(root, group))) {
      const src = join(root, group, member, 'src');
      if (existsSync(src)) walk(src);
    }
  return names;
};

describe('compose metrics stack', () => {
  it('parses, and every dependency is a service of the file, without cycles', () => {
    const services = compose();
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([...CONCORD_SERVICES, 'prometheus', 'grafana']),
    );
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: readonly string[]) => {
      const service = services[name];
      expect(service, `${path.join(' → ')} → ${name}`).toBeDefined();
      if (done.has(name)) return;
      expect(visiting.has(name), `cycle ${[...path, name].join(' → ')}`).toBe(false);
      visiting.add(name);
      for (const next of dependencies(service ?? {})) visit(next, [...path, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(services)) visit(name, []);
    for (const name of Object.keys(services)) {
      const service = services[name] ?? {};
      expect(service.image !== undefined || service.build !== undefined, name).toBe(true);
      // Mounted files of this repository exist (relative to infra/, where the compose file is).
      for (const volume of service.volumes ?? []) {
        const host = volume.split(':')[0] ?? '';
        if (host.startsWith('.')) expect(existsSync(join(infra, host)), `${name}: ${host}`).toBe(true);
      }
    }
    expect(dependencies(services.grafana ?? {})).toContain('prometheus');
  });

  it('has Prometheus scrape the four services’ /metrics at their port on the compose network', () => {
    const services = compose();
    const config = parse(read('prometheus', 'prometheus.yml')) as {
      scrape_configs: { metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = config.scrape_configs.flatMap((job) => {
      expect(job.metrics_path ?? '/metrics').toBe('/metrics');
      return job.static_configs.flatMap((c) => c.targets);
    });
    expect(targets.sort()).toEqual(
      CONCORD_SERVICES.map((name) => `${name}:${containerPort(services[name] ?? {})}`).sort(),
    );
    const mount = (services.prometheus?.volumes ?? []).find((v) => v.includes('prometheus.yml'));
    expect(mount?.split(':')[1]).toBe('/etc/prometheus/prometheus.yml');
  });

  it('provisions Grafana with that Prometheus and the dashboard', () => {
    const services = compose();
    const grafana = services.grafana ?? {};
    const datasources = parse(read('grafana', 'provisioning', 'datasources', 'prometheus.yml')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    const [source] = datasources.datasources;
    expect(source).toMatchObject({
      type: 'prometheus',
      url: `http://prometheus:${containerPort(services.prometheus ?? {})}`,
    });
    const providers = parse(read('grafana', 'provisioning', 'dashboards', 'concord.yml')) as {
      providers: { options: { path: string } }[];
    };
    const mounts = new Map((grafana.volumes ?? []).map((v) => [v.split(':')[1], v.split(':')[0]]));
    expect(mounts.get('/etc/grafana/provisioning')).toBe('./grafana/provisioning');
    const dashboards = providers.providers[0]?.options.path ?? '';
    expect(mounts.get(dashboards)).toBe('./grafana/dashboards');
    expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${dashboards}/concord.json`);

    const dashboard = JSON.parse(read('grafana', 'dashboards', 'concord.json')) as {
      panels: { title: string; targets: { expr: string; datasource: { uid: string } }[] }[];
    };
    expect(dashboard.panels.map((p) => p.title)).toEqual(
      expect.arrayContaining([
        'Throughput',
        'Outbox backlog',
        'Consumer lag',
        'Conflict rate per rule',
        'Review queue depth',
        'Dead letters',
        'Webhook failures',
        'Admission 429s',
      ]),
    );
    const registered = registeredMetrics();
    expect(registered.has('concord_consumer_lag')).toBe(true);
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) {
        expect(target.datasource.uid, panel.title).toBe(source?.uid);
        const used = [...target.expr.matchAll(/concord_[a-z0-9_]+/g)].map((m) => m[0]);
        expect(used.length, target.expr).toBeGreaterThan(0);
        for (const name of used) {
          const base = name.replace(/_(bucket|count|sum)$/, '');
          expect(registered.has(name) || registered.has(base), `${panel.title}: ${name}`).toBe(true);
        }
      }
    }
  });
});
