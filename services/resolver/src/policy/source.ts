import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import { ConcordError, coreErrors } from '@concord/core';
import { formatPolicyProblems, loadPolicy } from '@concord/core/policy';
import type { Logger } from '@concord/core';
import type { CompiledPolicy, PolicyProblem, SpecRegistry } from '@concord/core/policy';
import type { StrategyRegistry } from '@concord/core/strategy';

/** What a reload did. */
export type ReloadResult =
  | { readonly status: 'loaded'; readonly policy: CompiledPolicy }
  | { readonly status: 'unchanged' }
  | { readonly status: 'failed'; readonly problems: readonly PolicyProblem[] };

export interface PolicyInfo {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
  readonly path: string;
  /** ISO-8601 time the current policy was loaded. */
  readonly loadedAt: string;
  readonly reloads: { readonly ok: number; readonly failed: number };
  /** Problems of the last failed reload, while the file still holds that invalid text. */
  readonly lastError?: { readonly at: string; readonly problems: readonly PolicyProblem[] };
}

export type ReloadListener = (status: 'ok' | 'failed', current: CompiledPolicy) => void;

export interface PolicySourceOptions {
  /** Policy file (YAML, or JSON when it ends in `.json`). */
  readonly path: string;
  readonly logger: Logger;
  /** Strategies available to the policy (default: the built-ins). */
  readonly registry?: StrategyRegistry;
  /** Specs its `custom_match` conditions may name (default: none). */
  readonly specs?: SpecRegistry;
  /** Polling fallback for file systems without change events. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Change events within this window trigger one reload. Default 100 ms. */
  readonly debounceMs?: number;
  readonly now?: () => number;
}

/** The current policy, reloaded when its file changes; an invalid file keeps the last good policy. */
export interface PolicySource {
  current(): CompiledPolicy;
  info(): PolicyInfo;
  /** Reads the file again; loads it if its text changed and is valid. Never throws. */
  reload(): Promise<ReloadResult>;
  /** Starts watching the file (fs.watch with debounce, plus polling). Idempotent. */
  watch(): void;
  /** Calls `listener` after every reload that loaded or failed (metrics). */
  onReload(listener: ReloadListener): void;
  /** Stops watching. Idempotent. */
  close(): Promise<void>;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

const compile = (options: PolicySourceOptions, text: string) =>
  loadPolicy(text, {
    format: extname(options.path).toLowerCase() === '.json' ? 'json' : 'yaml',
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.specs === undefined ? {} : { specs: options.specs }),
  });

/** What a loaded policy ignores (options go-sync-kit's strategies ignore): one warning each. */
const logWarnings = (logger: Logger, path: string, policy: CompiledPolicy): void => {
  for (const warning of policy.warnings) {
    logger.warn({ path, problemPath: warning.path, problem: warning.message }, 'policy warning');
  }
};

/**
 * Loads the policy file; a missing or invalid file at start fails with `CONCORD_POLICY_INVALID`
 * (not retryable) listing every problem. Later reloads never throw: problems are logged and counted.
 */
export const openPolicySource = async (options: PolicySourceOptions): Promise<PolicySource> => {
  const { logger, path } = options;
  const now = options.now ?? Date.now;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConcordError(coreErrors.POLICY_INVALID, `cannot read policy file ${path}`, { cause });
  }
  const first = compile(options, text);
  if (!first.ok) {
    throw new ConcordError(
      coreErrors.POLICY_INVALID,
      `invalid policy ${path}:\n${formatPolicyProblems(first.problems)}`,
      { details: { path, problems: first.problems } },
    );
  }
  let policy = first.policy;
  let loadedAt = new Date(now()).toISOString();
  let lastText = digest(text);
  let lastError: PolicyInfo['lastError'];
  const reloads = { ok: 0, failed: 0 };
  const listeners: ReloadListener[] = [];
  const notify = (status: 'ok' | 'failed') => {
    for (const listener of listeners) listener(status, policy);
  };
  logger.info({ path, policy: policy.name, version: policy.version, hash: policy.hash }, 'policy loaded');
  logWarnings(logger, path, policy);

  const readAndLoad = async (): Promise<ReloadResult> => {
    let next: string;
    try {
      next = await readFile(path, 'utf8');
    } catch (error) {
      const problems = [{ path: '', message: `cannot read policy file: ${(error as Error).message}` }];
      const key = `unreadable:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
      if (key === lastText) return { status: 'unchanged' };
      lastText = key;
      return failed(problems);
    }
    const hash = digest(next);
    if (hash === lastText) return { status: 'unchanged' };
    lastText = hash;
    const result = compile(options, next);
    if (!result.ok) return failed(result.problems);
    const previous = policy;
    policy = result.policy;
    loadedAt = new Date(now()).toISOString();
    lastError = undefined;
    reloads.ok += 1;
    logger.info(
      { path, policy: policy.name, version: policy.version, hash: policy.hash, previousHash: previous.hash },
      'policy reloaded',
    );
    logWarnings(logger, path, policy);
    notify('ok');
    return { status: 'loaded', policy };
  };

  const failed = (problems: readonly PolicyProblem[]): ReloadResult => {
    reloads.failed += 1;
    lastError = { at: new Date(now()).toISOString(), problems };
    for (const problem of problems) {
      logger.error({ path, problemPath: problem.path, problem: problem.message }, 'policy problem');
    }
    logger.error(
      { path, problems: problems.length, keptPolicy: policy.name, keptHash: policy.hash },
      'policy reload failed; keeping the last good policy',
    );
    notify('failed');
    return { status: 'failed', problems };
  };

  // Reloads run one at a time, in call order.
  let chain: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadResult> => {
    const run = chain.then(readAndLoad, readAndLoad);
    chain = run;
    return run;
  };

  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;
  const trigger = () => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), options.debounceMs ?? 100);
    debounce.unref();
  };

  return {
    current: () => policy,
    info: () => ({
      name: policy.name,
      version: policy.version,
      hash: policy.hash,
      path,
      loadedAt,
      reloads: { ...reloads },
      ...(lastError === undefined ? {} : { lastError }),
    }),
    reload,
    onReload: (listener) => void listeners.push(listener),
    watch() {
      if (closed || poller !== undefined) return;
      poller = setInterval(() => void reload(), options.pollIntervalMs ?? 2_000);
      poller.unref();
      try {
        // Watch the folder, not the file: editors and config maps replace files by renaming.
        const name = basename(path);
        watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
          if (filename === null || filename === name) trigger();
        });
        watcher.on('error', (error) => {
          logger.warn({ err: error, path }, 'policy file watch failed; polling continues');
          watcher?.close();
          watcher = undefined;
        });
      } catch (error) {
        logger.warn({ err: error, path }, 'cannot watch the policy file; polling only');
      }
    },
    close() {
      closed = true;
      clearInterval(poller);
      clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
      return chain.then(
        () => undefined,
        () => undefined,
      );
    },
  };
};
