import { describe, expect, it } from 'vitest';
import { loadProjectorConfig } from '../src/config.js';

const base = { DATABASE_URL: 'postgres://localhost/concord', BROKER: 'memory' };

describe('projector config', () => {
  it('parses the cached types and defaults', () => {
    const config = loadProjectorConfig({
      ...base,
      REDIS_URL: 'redis://localhost:6379',
      PROJECTOR_REDIS_TYPES: 'task, note',
    });
    expect(config.PROJECTOR_REDIS_TYPES).toEqual(['task', 'note']);
    expect(config.PROJECTOR_REDIS_KEY_PREFIX).toBe('concord:projection:');
    expect(config.CONCORD_TOPIC_PREFIX).toBe('');
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadProjectorConfig(base).PROJECTOR_REDIS_TYPES).toEqual([]);
  });

  it('parses the aggregate types with metric labels of their own', () => {
    expect(loadProjectorConfig(base).PROJECTOR_METRIC_TYPES).toEqual([]);
    expect(
      loadProjectorConfig({ ...base, PROJECTOR_METRIC_TYPES: 'task, order' }).PROJECTOR_METRIC_TYPES,
    ).toEqual(['task', 'order']);
    expect(() => loadProjectorConfig({ ...base, PROJECTOR_METRIC_TYPES: 'task,a b' })).toThrow(
      /PROJECTOR_METRIC_TYPES/,
    );
  });

  it('reports every problem at once', () => {
    expect(() =>
      loadProjectorConfig({
        BROKER: 'rabbitmq',
        PROJECTOR_REDIS_TYPES: 'task',
        PROJECTOR_CONCURRENCY: 'many',
      }),
    ).toThrow(/DATABASE_URL[\s\S]*PROJECTOR_CONCURRENCY/);
    try {
      loadProjectorConfig({ ...base, PROJECTOR_REDIS_TYPES: 'task' });
    } catch (error) {
      expect((error as { details: string[] }).details).toEqual([
        'REDIS_URL: is required when PROJECTOR_REDIS_TYPES is set',
      ]);
      return;
    }
    expect.unreachable('config should fail');
  });
});
