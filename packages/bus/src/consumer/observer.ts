/** What a consumer pipeline reports about each handler attempt; feeds metrics. */
export type ConsumerEvent =
  | {
      readonly kind: 'handled';
      readonly group: string;
      readonly topic: string;
      /** Wall time of the successful attempt, in seconds. */
      readonly seconds: number;
    }
  | { readonly kind: 'retry'; readonly group: string; readonly topic: string; readonly attempt: number }
  | { readonly kind: 'dead-lettered'; readonly group: string; readonly topic: string; readonly code: string };

/**
 * Optional hook of a bus: told about every handled message, retry and dead letter. Must not throw
 * (errors are swallowed) and must be cheap — it runs on the consumer path.
 */
export type ConsumerObserver = (event: ConsumerEvent) => void;
