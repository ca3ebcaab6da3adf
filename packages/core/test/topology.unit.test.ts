import { readFileSync } from 'node:fs';
import { TOPOLOGY, Topics, consumedTopics, fullTopology, topologyOf } from '@concord/core/messages';
import { ConsumerGroups } from '../src/messages/topics.js';
import { describe, expect, it } from 'vitest';

/** The rows of DESIGN §4's topic table: topic, producers, consumers, key. */
const designTable = (): string[][] => {
  const design = readFileSync(new URL('../../../docs/DESIGN.md', import.meta.url), 'utf8');
  const section = design.slice(design.indexOf('## 4. Topics'), design.indexOf('## 5.'));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `concord.'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim().replaceAll('`', '')),
    );
};

const list = (cell: string | undefined) => (cell ?? '').split(',').map((name) => name.trim());

describe('topology', () => {
  it('is DESIGN §4: every topic with its producers, consumer groups and key', () => {
    const rows = designTable();
    expect(rows.map((row) => row[0])).toEqual(TOPOLOGY.map((route) => route.topic));
    for (const [topic, producers, consumers, key] of rows) {
      const route = TOPOLOGY.find((r) => r.topic === topic);
      expect(route?.producers, topic).toEqual(list(producers));
      // `users` read outcomes with groups of their own; Concord declares only its services' groups.
      expect(route?.groups, topic).toEqual(list(consumers).filter((c) => c !== 'users'));
      expect(route?.key, topic).toBe(key === 'event id' ? 'eventId' : key);
    }
  });

  it('has a service declare the groups reading what it publishes, and its own', () => {
    expect(topologyOf('ingest')).toEqual([
      { topic: Topics.submit, groups: [ConsumerGroups.ingest] },
      { topic: Topics.applied, groups: ['projector', 'notifier'] },
      { topic: Topics.conflictDetected, groups: ['resolver'] },
      { topic: Topics.outcome, groups: ['notifier'] },
    ]);
    expect(topologyOf('projector')).toEqual([
      { topic: Topics.applied, groups: ['projector'] },
      { topic: Topics.conflictResolved, groups: ['projector'] },
      { topic: Topics.projected, groups: ['notifier'] },
    ]);
    expect(topologyOf('notifier').map((d) => d.topic)).toEqual(consumedTopics('notifier'));
    expect(topologyOf('notifier').every((d) => d.groups.join() === 'notifier')).toBe(true);
    expect(fullTopology()).toHaveLength(TOPOLOGY.length);
  });
});
