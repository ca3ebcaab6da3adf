export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

/** A minimal EventSource over fetch: collects parsed events until closed. */
export interface SseClient {
  readonly status: number;
  readonly events: SseEvent[];
  /** Comment lines seen (heartbeats). */
  readonly comments: string[];
  /** Resolves when the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export const openStream = async (url: string, headers: Record<string, string> = {}): Promise<SseClient> => {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const body = response.body;
  if (body === null) throw new Error('no body');
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let boundary = buffer.indexOf('\n\n');
        while (boundary >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event: { id?: string; event?: string; data: string[] } = { data: [] };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data.push(line.slice(6));
          }
          if (event.data.length > 0) {
            events.push({
              ...(event.id === undefined ? {} : { id: event.id }),
              ...(event.event === undefined ? {} : { event: event.event }),
              data: event.data.join('\n'),
            });
          }
          boundary = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { status: response.status, events, comments, ended, close: () => controller.abort() };
};
