export interface SseEvent {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
}

/**
 * A Server-Sent Events client over fetch that can drop its connection and resume with
 * `Last-Event-ID`, as a browser's EventSource does after a network failure.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** How each connection ended other than by `disconnect()`: the server closed it, or an error. */
  readonly unexpectedEnds: string[] = [];
  #abort: AbortController | undefined;
  #reading: Promise<void> | undefined;

  constructor(readonly url: string) {}

  get lastEventId(): string | undefined {
    return this.events.at(-1)?.id;
  }

  /** Connects, resuming after `last` (default: the last event received; `'0'` replays the whole log). */
  async connect(last: string | undefined = this.lastEventId): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (last !== undefined) headers['last-event-id'] = last;
    const response = await fetch(this.url, { headers, signal: abort.signal });
    if (!response.ok || response.body === null) throw new Error(`SSE connect failed: ${response.status}`);
    const received = this.events.length;
    this.#reading = this.#read(response.body).then(
      () => {
        if (abort.signal.aborted) return;
        this.unexpectedEnds.push(`server ended the stream after ${this.events.length - received} events`);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        this.unexpectedEnds.push(
          `stream failed after ${this.events.length - received} events: ${String(error)}`,
        );
      },
    );
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id = '';
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') id = value;
          else if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length > 0) this.events.push({ id, event, data: JSON.parse(data.join('\n')) as unknown });
      }
    }
  }

  /** Drops the connection (the server sees a disconnect). */
  async disconnect(): Promise<void> {
    this.#abort?.abort();
    await this.#reading;
  }
}
