import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
import type { CircuitBreakerPolicy } from 'cockatiel';

export interface CircuitSettings {
  /** Consecutive failures that open an endpoint's circuit. */
  readonly failureThreshold: number;
  /** How long a circuit stays open before one trial request (half-open) may go through. */
  readonly halfOpenAfterMs: number;
}

export type CircuitStateName = 'closed' | 'open' | 'half_open' | 'isolated';

const stateNames: Readonly<Record<CircuitState, CircuitStateName>> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'isolated',
};

export interface CircuitBreakers {
  /**
   * Runs `call` through the endpoint's breaker. While the circuit is open it throws
   * {@link CircuitOpenError} with the time left until a trial request is allowed.
   */
  execute<R>(endpoint: string, call: () => Promise<R>): Promise<R>;
  state(endpoint: string): CircuitStateName;
  /** How many endpoints' circuits are in each state (the breakers this process keeps). */
  counts(): Record<CircuitStateName, number>;
  /** Drops the endpoint's breaker (no subscription delivers to it any more): it no longer counts. */
  forget(endpoint: string): void;
}

/** The circuit of an endpoint is open: nothing was sent. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly endpoint: string,
    readonly retryInMs: number,
  ) {
    super(`circuit for ${endpoint} is open`);
  }
}

export interface CircuitBreakersOptions extends CircuitSettings {
  /** Called on every state change (metrics). */
  readonly onStateChange?: (endpoint: string, state: CircuitStateName) => void;
  /** Clock for the "time left" estimate; cockatiel itself reads Date.now(). */
  readonly now?: () => number;
  /** Endpoints whose breakers are kept; the least recently used beyond this are dropped. Default 10,000. */
  readonly maxEndpoints?: number;
}

interface Entry {
  readonly policy: CircuitBreakerPolicy;
  openedAt: number;
}

/**
 * One cockatiel circuit breaker per endpoint (the webhook URL): open after N consecutive failures,
 * half-open after a delay (one trial request; success closes, failure re-opens). Breakers live in
 * this process; each replica learns an endpoint's health on its own.
 */
export const createCircuitBreakers = (options: CircuitBreakersOptions): CircuitBreakers => {
  const now = options.now ?? Date.now;
  const maxEndpoints = options.maxEndpoints ?? 10_000;
  const entries = new Map<string, Entry>();

  const entryOf = (endpoint: string): Entry => {
    const known = entries.get(endpoint);
    if (known !== undefined) {
      entries.delete(endpoint);
      entries.set(endpoint, known);
      return known;
    }
    const policy = circuitBreaker(handleAll, {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.failureThreshold),
    });
    const entry: Entry = { policy, openedAt: 0 };
    policy.onStateChange((state) => {
      if (state === CircuitState.Open) entry.openedAt = now();
      options.onStateChange?.(endpoint, stateNames[state]);
    });
    entries.set(endpoint, entry);
    options.onStateChange?.(endpoint, 'closed');
    if (entries.size > maxEndpoints) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    return entry;
  };

  return {
    async execute(endpoint, call) {
      const entry = entryOf(endpoint);
      try {
        return await entry.policy.execute(call);
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          const left = entry.openedAt + options.halfOpenAfterMs - now();
          throw new CircuitOpenError(endpoint, Math.max(0, left));
        }
        throw error;
      }
    },
    state: (endpoint) => stateNames[entries.get(endpoint)?.policy.state ?? CircuitState.Closed],
    counts() {
      const counts: Record<CircuitStateName, number> = { closed: 0, open: 0, half_open: 0, isolated: 0 };
      for (const { policy } of entries.values()) counts[stateNames[policy.state]] += 1;
      return counts;
    },
    forget(endpoint) {
      entries.delete(endpoint);
    },
  };
};
