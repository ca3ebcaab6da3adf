import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { prettyLine } from '../src/pretty-log.js';

describe('log format', () => {
  const line = JSON.stringify({
    level: 40,
    time: '2026-12-04T19:04:05.123Z',
    service: 'ingest',
    msg: 'outbox relay lost partition leases',
    partitions: [3, 4],
    owner: 'relay one',
  });

  it('prints a JSON record as one readable line: time, level, service, message, then key=value', () => {
    expect(prettyLine(line, false)).toBe(
      '19:04:05.123 WARN  ingest outbox relay lost partition leases partitions=[3,4] owner="relay one"\n',
    );
  });

  it('colours by level only when asked, and shows an error with its stack', () => {
    expect(prettyLine(line, true)).toContain('\u001b[33mWARN \u001b[0m');
    const failed = JSON.stringify({
      level: 50,
      time: '2026-12-04T19:04:05.123Z',
      msg: 'boom',
      err: { stack: 'Error: x\n    at y' },
    });
    expect(prettyLine(failed, false)).toBe('19:04:05.123 ERROR boom \nError: x\n    at y\n');
  });

  it('passes a line that is not JSON through', () => {
    expect(prettyLine('plain', false)).toBe('plain\n');
  });

  it('writes JSON lines to a given destination whatever the format, so collectors always parse them', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const logger = createLogger({ service: 's', level: 'info', format: 'pretty', destination: out });
    logger.info({ k: 1 }, 'hello');
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(chunks.join(''))).toMatchObject({ service: 's', msg: 'hello', k: 1 });
  });
});
