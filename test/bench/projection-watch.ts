/**
 * How `pnpm bench:e2e` sees events arrive at the end of the pipeline: the first arrival of each event id
 * on the projected topic (or the notifier's stream), with --hops also on the applied topic; each hop's
 * latency quantiles; and, after a run, which accepted events never arrived (lost, or still in flight).
 */
import { randomUUID } from 'node:crypto';
import type { MessageBus } from '@concord/bus';
import { Topics } from '@concord/core/messages';
import type { ProjectedMessage } from '@concord/core/messages';
import { SseClient } from '../e2e/support/sse-client.js';

/** p50/p90/p99 ms of each hop, and the p99 of each second of the run. */
export interface Hops {
  readonly acceptToApplied: readonly number[];
  readonly appliedToProjected: readonly number[];
  readonly p99BySecond: readonly number[];
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);

/** Where "projected" observations come from: the broker topic, or the SSE stream in embedded mode. */
export interface ProjectionWatch {
  readonly seen: Map<string, number>;
  /** With --hops: when each event's `applied` message arrived. */
  readonly applied?: Map<string, number>;
  close(): Promise<void>;
}

/** Stamps the first arrival of each event id on `topic` in `seen`. */
const stampArrivals = (bus: MessageBus, topic: string, seen: Map<string, number>) => {
  const decoder = new TextDecoder();
  return bus.subscribe({
    group: `bench-${randomUUID().slice(0, 8)}`,
    topics: [topic],
    concurrency: 256,
    handler: (message) => {
      const { eventId } = JSON.parse(decoder.decode(message.payload)) as Pick<ProjectedMessage, 'eventId'>;
      if (!seen.has(eventId)) seen.set(eventId, performance.now());
      return Promise.resolve();
    },
  });
};

/** Watches the broker's projected topic (and, with `hops`, the applied topic). */
export const watchBus = async (
  bus: MessageBus,
  options: { readonly hops: boolean },
): Promise<ProjectionWatch> => {
  const seen = new Map<string, number>();
  const projected = await stampArrivals(bus, Topics.projected, seen);
  if (!options.hops) return { seen, close: () => projected.close() };
  const applied = new Map<string, number>();
  const appliedSubscription = await stampArrivals(bus, Topics.applied, applied);
  return {
    seen,
    applied,
    close: async () => {
      await projected.close();
      await appliedSubscription.close();
    },
  };
};

const quantiles = (samples: number[]): number[] => {
  const sorted = samples.sort((a, b) => a - b);
  return [0.5, 0.9, 0.99].map((p) => Math.round(percentile(sorted, p) * 10) / 10);
};

/** Each hop's p50/p90/p99 and each second's p99 (by accept time), for --hops. */
export const hopsOf = (
  accepted: ReadonlyMap<string, number>,
  watch: ProjectionWatch,
  start: number,
): Hops | undefined => {
  const applied = watch.applied;
  if (applied === undefined) return undefined;
  const toApplied: number[] = [];
  const toProjected: number[] = [];
  const bySecond: number[][] = [];
  for (const [id, at] of accepted) {
    const appliedAt = applied.get(id);
    const projectedAt = watch.seen.get(id);
    if (appliedAt !== undefined) toApplied.push(appliedAt - at);
    if (appliedAt !== undefined && projectedAt !== undefined) toProjected.push(projectedAt - appliedAt);
    if (projectedAt !== undefined) (bySecond[Math.floor((at - start) / 1000)] ??= []).push(projectedAt - at);
  }
  return {
    acceptToApplied: quantiles(toApplied),
    appliedToProjected: quantiles(toProjected),
    p99BySecond: [...bySecond].map((second) => quantiles(second ?? [])[2] ?? Number.NaN),
  };
};

/** Watches the notifier's stream (the embedded all-in-one has no broker to subscribe to). */
export const watchStream = async (url: string): Promise<ProjectionWatch> => {
  const seen = new Map<string, number>();
  const client = new SseClient(`${url}/v1/stream?topics=${Topics.projected}`);
  await client.connect();
  let read = 0;
  // Stamp arrivals as they are parsed: the client appends to `events` as the stream delivers them.
  const timer = setInterval(() => {
    const now = performance.now();
    for (; read < client.events.length; read += 1) {
      const data = (client.events[read]?.data as { data?: ProjectedMessage } | undefined)?.data;
      if (data?.eventId !== undefined && !seen.has(data.eventId)) seen.set(data.eventId, now);
    }
  }, 1);
  return {
    seen,
    close: async () => {
      clearInterval(timer);
      await client.disconnect();
    },
  };
};

/** The accepted events not projected: how many of them the store does not have (lost), and the rest. */
export const unprojected = async (
  url: string,
  accepted: ReadonlyMap<string, number>,
  watch: ProjectionWatch,
): Promise<{ lost: number; unfinished: number }> => {
  const missing = [...accepted.keys()].filter((id) => !watch.seen.has(id));
  let lost = 0;
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const id = missing[next++] ?? '';
      const response = await fetch(`${url}/v1/events/${encodeURIComponent(id)}`);
      await response.arrayBuffer();
      if (response.status === 404) lost += 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { lost, unfinished: missing.length - lost };
};
