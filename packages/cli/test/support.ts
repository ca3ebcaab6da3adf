import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the CLI's stdin, which is then closed. */
  readonly input?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/**
 * Runs `concord <args>` as its own process, from source, with only PATH and HOME of the runner's
 * environment (so CONCORD_URL and the broker variables come from the test alone).
 */
export const concord = (args: readonly string[], options: RunOptions = {}): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/cli/src/main.ts', ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });

/** Every line of a `--json` output, parsed (tests read their fields in assertions). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const jsonLines = (stdout: string): any[] =>
  stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line): unknown => JSON.parse(line));

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** What the proxy does with a request: pass it on, or answer it itself. */
export type ProxyRule = (
  request: ProxiedRequest,
  index: number,
) =>
  | { readonly kind: 'forward'; readonly dropAfterEvents?: number }
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: string;
    };

/**
 * An HTTP proxy in front of the embedded Concord that records every request and, per `rule`, answers
 * some itself (a 429 with Retry-After) or cuts a streamed answer short (a dropped SSE connection).
 */
export const startProxy = async (target: string, rule: ProxyRule) => {
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const seen = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const action = rule(seen, requests.length);
    requests.push(seen);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (action.kind === 'answer') {
        res.writeHead(action.status, action.headers).end(action.body);
        return;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
      }
      const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
      void fetch(`${target}${seen.url}`, {
        method: seen.method,
        headers,
        ...(body === undefined ? {} : { body }),
      })
        .then(async (upstream) => {
          res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
          const drop = action.dropAfterEvents;
          if (drop === undefined) {
            for await (const chunk of upstream.body ?? []) res.write(chunk);
            res.end();
            return;
          }
          // Passes whole SSE blocks on, and drops the connection after the `drop`-th one with an id.
          const decoder = new TextDecoder();
          let buffer = '';
          let events = 0;
          for await (const chunk of upstream.body ?? []) {
            buffer += decoder.decode(chunk as Uint8Array, { stream: true });
            let end: number;
            while ((end = buffer.indexOf('\n\n')) !== -1) {
              const block = buffer.slice(0, end + 2);
              buffer = buffer.slice(end + 2);
              res.write(block);
              if (/^id:/m.test(block)) events += 1;
              if (events >= drop) {
                // Closes the connection once what was written is flushed: the client sees the stream
                // cut short after the last whole event, as when a proxy or network drops it.
                res.socket?.end();
                return;
              }
            }
          }
          res.end();
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
