import type { JsonObject } from '@concord/core';
import type { EventEnvelope } from '@concord/core/envelope';
import type { Submitter } from './submitter.js';

/*
 * What the writers submit. Every aggregate is a `task`, so the bundled policy decides every conflict
 * automatically (`task-tags-additive` for tags, last_write_wins otherwise) and every event can reach a
 * final outcome without a person.
 */

export const task = (id: string, type: string, aggregateId: string, data: JsonObject, baseVersion?: number) =>
  ({
    id,
    type,
    aggregateType: 'task',
    aggregateId,
    data,
    metadata: { source: 'e2e' },
    ...(baseVersion === undefined ? {} : { baseVersion }),
  }) satisfies EventEnvelope;

/**
 * The first repro: `count` tasks created, then two `tags` edits of each on version 1 — the
 * first applies, the second conflicts and goes to the resolver. Ids and aggregates start with `prefix`.
 */
export const conflictPairs = (prefix: string, count: number) => {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  return {
    aggregates: ids,
    creates: ids.map((id) => task(`${id}:create`, 'TaskCreated', id, { title: id, tags: [] })),
    edits: ids.flatMap((id) => [
      task(`${id}:tag-a`, 'TaskTagged', id, { tags: ['a'] }, 1),
      task(`${id}:tag-b`, 'TaskTagged', id, { tags: ['b'] }, 1),
    ]),
    /** The event of each pair that conflicts. */
    conflicting: ids.map((id) => `${id}:tag-b`),
  };
};

export interface WorkloadShape {
  readonly writers: number;
  readonly rounds: number;
  /** Shared aggregates every writer edits on version 1 (`hot-<n>`). */
  readonly hot: number;
  /** About how long the writers take: each waits a random think time between requests. */
  readonly streamMs: number;
}

/** Requests per writer and round, and events per writer and round (see `writer`). */
const REQUESTS_PER_ROUND = 5;
export const EVENTS_PER_ROUND = 6;

export const totalEvents = (shape: WorkloadShape): number =>
  shape.writers * shape.rounds * EVENTS_PER_ROUND + shape.hot;

/** The shared aggregates, created before the writers start. */
export const hotCreates = (shape: WorkloadShape): EventEnvelope[] =>
  Array.from({ length: shape.hot }, (_, h) =>
    task(`hot-${h}:create`, 'TaskCreated', `hot-${h}`, { title: `hot-${h}`, tags: ['hot'] }),
  );

/**
 * One writer: each round creates a task of its own, tags it twice on version 1 (applied, then a
 * conflict the resolver settles), changes its status on version 1 (disjoint: merged), sets a field of
 * its own on a shared task on version 1 (merged) and tags a shared task on version 1 (a conflict with
 * every other writer's tags). Requests alternate between the ingest instances (the submitter picks).
 */
export const writer = async (options: {
  readonly k: number;
  readonly shape: WorkloadShape;
  readonly submitter: Submitter;
  readonly random: () => number;
}): Promise<void> => {
  const { k, shape, submitter, random } = options;
  const think = () => {
    const mean = shape.streamMs / (shape.rounds * REQUESTS_PER_ROUND);
    return new Promise((resolve) => setTimeout(resolve, random() * 2 * mean));
  };
  await think();
  for (let r = 0; r < shape.rounds; r += 1) {
    const own = `w-${k}-${r}`;
    const hotField = `hot-${(k + r) % shape.hot}`;
    const hotTags = `hot-${(k * 7 + r * 3) % shape.hot}`;
    const requests: EventEnvelope[][] = [
      [task(`${own}:create`, 'TaskCreated', own, { title: own, tags: [] })],
      [task(`${own}:tag-a`, 'TaskTagged', own, { tags: [`a${k}`] }, 1)],
      [
        task(`${own}:tag-b`, 'TaskTagged', own, { tags: [`b${k}`] }, 1),
        task(`${own}:status`, 'TaskUpdated', own, { status: 'done' }, 1),
      ],
      [task(`${own}:field`, 'TaskUpdated', hotField, { [`f${k}_${r}`]: r }, 1)],
      [task(`${own}:hot-tag`, 'TaskTagged', hotTags, { tags: [`h${k}-${r}`] }, 1)],
    ];
    for (const [i, events] of requests.entries()) {
      await submitter.submit(events, k + i);
      await think();
    }
  }
};
