/** One Server-Sent Event. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * Server-Sent Events read from a byte stream by the WHATWG rules (`field: value` lines, a blank line
 * ends an event, `:` starts a comment). Reads with a reader, not async iteration, which some browsers'
 * ReadableStream lacks.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
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
    return undefined;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.search(/\r\n|\r|\n/)) !== -1) {
        if (buffer[end] === '\r' && end === buffer.length - 1) break; // a \r\n may be split across chunks
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
        const complete = line(text);
        if (complete !== undefined) yield complete;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
