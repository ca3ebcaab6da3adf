import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConcordError } from '@concord/core';
import { createStrategyRegistry } from '@concord/core/strategy';
import type { SpecFactory, SpecRegistry } from '@concord/core/policy';
import type { StrategyDefinition, StrategyRegistry } from '@concord/core/strategy';
import { resolverErrors } from './errors.js';

/**
 * What an extension module gives Concord (its default export, or a function returning it): custom
 * strategies a policy's `resolution.strategy` may name, and specs its `custom_match` conditions may
 * name. See docs/extensions.md.
 */
export interface ConcordExtension {
  readonly strategies?: readonly StrategyDefinition[];
  readonly specs?: Readonly<Record<string, SpecFactory>>;
}

/** The strategies (built-ins plus every extension's) and specs a policy is compiled with. */
export interface Extensions {
  readonly registry: StrategyRegistry;
  readonly specs: SpecRegistry;
  /** The modules loaded, in order. */
  readonly modules: readonly string[];
}

const invalid = (module: string, message: string, cause?: unknown): ConcordError =>
  new ConcordError(resolverErrors.EXTENSION_INVALID, `extension ${module}: ${message}`, {
    details: { module },
    ...(cause === undefined ? {} : { cause }),
  });

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A path (absolute, or relative to `cwd`) is imported as a file; anything else as a package name. */
const specifier = (module: string, cwd: string): string =>
  module.startsWith('.') || isAbsolute(module) ? pathToFileURL(resolve(cwd, module)).href : module;

const read = async (module: string, cwd: string): Promise<ConcordExtension> => {
  let exported: unknown;
  try {
    exported = ((await import(specifier(module, cwd))) as { default?: unknown }).default;
  } catch (cause) {
    throw invalid(module, 'cannot be imported', cause);
  }
  const extension = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (!isRecord(extension)) throw invalid(module, 'its default export must be { strategies?, specs? }');
  const { strategies, specs } = extension;
  if (strategies !== undefined && !Array.isArray(strategies))
    throw invalid(module, '`strategies` must be a list of strategy definitions');
  if (specs !== undefined && !isRecord(specs))
    throw invalid(module, '`specs` must map spec names to functions');
  for (const [name, factory] of Object.entries(specs ?? {})) {
    if (typeof factory !== 'function') throw invalid(module, `spec "${name}" is not a function`);
  }
  return extension;
};

/**
 * Loads the extension modules named by `CONCORD_EXTENSIONS` (comma-separated paths or package names),
 * in order. A module that cannot be imported, has the wrong shape, or registers a strategy or spec
 * name already taken fails the start with `CONCORD_EXTENSION_INVALID`.
 */
export const loadExtensions = async (
  modules: readonly string[],
  options: { readonly cwd?: string } = {},
): Promise<Extensions> => {
  const cwd = options.cwd ?? process.cwd();
  const registry = createStrategyRegistry();
  const specs = new Map<string, SpecFactory>();
  for (const module of modules) {
    const extension = await read(module, cwd);
    for (const definition of extension.strategies ?? []) {
      try {
        registry.register(definition);
      } catch (cause) {
        throw invalid(module, `cannot register strategy "${String(definition?.name)}"`, cause);
      }
    }
    for (const [name, factory] of Object.entries(extension.specs ?? {})) {
      if (specs.has(name)) throw invalid(module, `spec "${name}" is registered twice`);
      specs.set(name, factory);
    }
  }
  return { registry, specs, modules: [...modules] };
};

/** `CONCORD_EXTENSIONS` as a list: comma-separated, blanks ignored. */
export const extensionList = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
