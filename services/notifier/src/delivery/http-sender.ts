import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { notifierErrors } from '../errors.js';
import { isPrivateAddress } from '../url-guard.js';
import { ConcordError } from '@concord/core';

export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Sends one webhook request; resolves with the receiver's status, rejects when no response came. */
export type WebhookSender = (request: WebhookRequest) => Promise<{ readonly status: number }>;

export interface HttpSender {
  readonly send: WebhookSender;
  /** Closes kept-alive sockets. Idempotent. */
  close(): void;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

const forbidden = (hostname: string, address: string) =>
  new ConcordError(
    notifierErrors.WEBHOOK_URL_PRIVATE,
    `webhook host ${hostname} resolved to private address ${address}`,
    {
      retryable: false,
      details: { host: hostname, address },
    },
  );

/**
 * A DNS lookup that refuses private addresses at connect time, so a host name that resolved to a public
 * address when the subscription was made cannot later be pointed at an internal one (DNS rebinding).
 */
const guardedLookup = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: LookupCallback,
): void => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) return callback(error, []);
    const refused = addresses.find((entry) => isPrivateAddress(entry.address));
    if (refused !== undefined) return callback(forbidden(hostname, refused.address), []);
    if (options.all === true) return callback(null, addresses);
    const first = addresses[0];
    if (first === undefined)
      return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
};

/**
 * Webhook requests over node:http(s) with kept-alive sockets. Unless private URLs are allowed, literal
 * addresses and every resolved address are checked against the private ranges before connecting.
 */
export const createHttpSender = (options: {
  readonly allowPrivate: boolean;
  readonly maxSockets?: number;
}): HttpSender => {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const send: WebhookSender = (request) =>
    new Promise((resolve, reject) => {
      const url = new URL(request.url);
      const secure = url.protocol === 'https:';
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) {
        reject(forbidden(host, host));
        return;
      }
      const body = Buffer.from(request.body);
      const outgoing = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? agents.https : agents.http,
          headers: { ...request.headers, 'content-length': String(body.length) },
          signal: AbortSignal.timeout(request.timeoutMs),
          ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
          response.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
};
