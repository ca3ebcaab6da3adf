/** One Server-Sent Event: its `id:`, `event:` and `data:` lines. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * Parses a Server-Sent Events stream (the WHATWG rules Concord's notifier writes by: `field: value`
 * lines, a blank line ends an event, `:` starts a comment). `retry` is reported through `onRetry`.
 */
export async function* parseSse(
  chunks: AsyncIterable<Uint8Array>,
  onRetry: (ms: number) => void = () => {},
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  const line = (text: string): SseEvent | undefined => {
    if (text === '') {
      const done =
        data.length === 0
          ? undefined
          : { id, event: event === '' ? 'message' : event, data: data.join('\n') };
      event = '';
      data = [];
      return done;
    }
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
    return undefined;
  };
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
      const done = line(text);
      if (done !== undefined) yield done;
    }
  }
}
