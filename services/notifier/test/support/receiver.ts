import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookVerificationError, verifyWebhook } from '@concord/notifier/verify';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** When it arrived (ms): the receiver's clock for verifying its timestamp. */
  readonly receivedAt: number;
}

/**
 * Checks a request as a receiver would, with the exported verifier and the receiver's clock at its
 * arrival (or `laterMs` after it, to replay it): 'verified', or the code it failed with.
 */
export const verifyReceived = (
  request: ReceivedRequest,
  secret: string | readonly string[],
  laterMs = 0,
): string => {
  try {
    verifyWebhook({
      secret,
      headers: request.headers,
      body: request.body,
      now: () => request.receivedAt + laterMs,
    });
    return 'verified';
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.code;
    throw error;
  }
};

/** A local webhook receiver: records every request; each path answers with the status `respond` gives. */
export interface Receiver {
  readonly url: string;
  readonly received: ReceivedRequest[];
  respond: (path: string) => number;
  on(path: string): ReceivedRequest[];
  close(): Promise<void>;
}

export const startReceiver = async (): Promise<Receiver> => {
  const received: ReceivedRequest[] = [];
  const receiver = {
    url: '',
    received,
    respond: (_path: string) => 200,
    on: (path: string) => received.filter((request) => request.path === path),
    close: () => Promise.resolve(),
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({
        path,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      });
      response.statusCode = receiver.respond(path);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
};
