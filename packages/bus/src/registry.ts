import { ConcordError } from '@concord/core';
import { busErrors } from './errors.js';
import type { MessageBus } from './port.js';

/** Builds a bus from adapter-specific options. */
export type BusFactory<Options> = (options: Options) => MessageBus | Promise<MessageBus>;

/**
 * Named adapter factories, so that a service picks its broker from configuration (`BROKER`) in one
 * place instead of switching on the name. The type parameter maps each registered name to its options.
 *
 * ```ts
 * const registry = new BusRegistry().register('memory', createMemoryBus);
 * const bus = await registry.create('memory', {});
 * ```
 */
export class BusRegistry<Factories extends object = Record<never, never>> {
  readonly #factories = new Map<string, BusFactory<never>>();

  /** Adds a factory under `name` (replacing one of the same name) and returns the registry, typed. */
  register<Name extends string, Options>(
    name: Name,
    factory: BusFactory<Options>,
  ): BusRegistry<Factories & Record<Name, Options>> {
    this.#factories.set(name, factory);
    return this;
  }

  /** Registered names, in registration order. */
  names(): (keyof Factories & string)[] {
    return [...this.#factories.keys()] as (keyof Factories & string)[];
  }

  has(name: string): name is keyof Factories & string {
    return this.#factories.has(name);
  }

  /** Creates a bus with the named factory; an unknown name fails with `CONCORD_BUS_UNKNOWN_BROKER`. */
  async create<Name extends keyof Factories & string>(
    name: Name,
    options: Factories[Name],
  ): Promise<MessageBus> {
    const factory = this.#factories.get(name) as BusFactory<Factories[Name]> | undefined;
    if (factory === undefined) throw unknownBroker(name, this.names());
    return factory(options);
  }
}

export const unknownBroker = (name: unknown, known: readonly string[]): ConcordError =>
  new ConcordError(
    busErrors.BUS_UNKNOWN_BROKER,
    `Unknown broker ${JSON.stringify(name)}: expected one of ${known.join(', ')}`,
    { details: { name, known } },
  );
