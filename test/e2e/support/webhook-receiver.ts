import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { WebhookVerificationError, verifyWebhook } from '@concord/notifier/verify';

export interface ReceivedWebhook {
  readonly deliveryId: string;
  readonly eventType: string;
  readonly body: unknown;
  /** Verified with the exported Standard Webhooks verifier on arrival (signature and timestamp). */
  readonly signatureValid: boolean;
  /** Why verification failed (a CONCORD_WEBHOOK_* code), '' when it passed. */
  readonly signatureError: string;
  /** The W3C `traceparent` header the delivery carried ('' when none). */
  readonly traceparent: string;
}

/** A local webhook endpoint that records every delivery and verifies it as a receiver would. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  #server: Server | undefined;
  url = '';

  constructor(readonly secret: string) {}

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks);
        let signatureError = '';
        try {
          verifyWebhook({ secret: this.secret, headers: request.headers, body: raw });
        } catch (error) {
          if (!(error instanceof WebhookVerificationError)) throw error;
          signatureError = error.code;
        }
        this.received.push({
          deliveryId: String(request.headers['webhook-id'] ?? ''),
          eventType: String(request.headers['x-concord-event'] ?? ''),
          body: JSON.parse(raw.toString('utf8')) as unknown,
          signatureValid: signatureError === '',
          signatureError,
          traceparent: String(request.headers.traceparent ?? ''),
        });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('receiver has no address');
    this.url = `http://127.0.0.1:${address.port}/hook`;
    this.#server = server;
  }

  /** Distinct delivery ids received (at-least-once delivery may repeat one). */
  deliveryIds(): Set<string> {
    return new Set(this.received.map((r) => r.deliveryId));
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
