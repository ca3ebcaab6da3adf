import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ConcordError } from '@concord/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serviceKitErrors } from './errors.js';

/** Responses smaller than this go out as they are: compressing them saves less than it costs. */
export const COMPRESS_THRESHOLD_BYTES = 1024;

type Decoding = 'gzip' | 'br' | 'deflate';

const DECODINGS: Readonly<Record<string, Decoding>> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  br: 'br',
  deflate: 'deflate',
};

const decompressor = (encoding: Decoding): Transform =>
  encoding === 'br'
    ? zlib.createBrotliDecompress()
    : encoding === 'gzip'
      ? zlib.createGunzip()
      : zlib.createInflate();

/** The decompressed size of each request whose body arrived compressed (read whole). */
const decodedSizes = new WeakMap<FastifyRequest, number>();

/**
 * How many bytes a compressed request body decompressed to, once read; undefined for a body sent as is
 * (its `Content-Length` says). What a request costs in memory is its decompressed size.
 */
export const decodedBodyBytes = (request: FastifyRequest): number | undefined => decodedSizes.get(request);

/** Fastify's own error for a too large body, so the zip bomb is answered as any large body is (413). */
const tooLarge = (): Error =>
  Object.assign(new Error('request body exceeds the size limit'), {
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    statusCode: 413,
  });

/**
 * The decompressed body, cut off at `limit` bytes: past it the decompressor is destroyed (no more CPU
 * spent on a bomb), the rest of the request is drained unread, and the stream fails with 413.
 * `receivedEncodedLength` counts the bytes as sent, which Fastify holds to `Content-Length`.
 */
const decodedBody = (
  raw: Readable,
  options: { readonly encoding: Decoding; readonly limit: number; readonly done: (bytes: number) => void },
): Readable => {
  const { encoding, limit } = options;
  const inflate = decompressor(encoding);
  let decoded = 0;
  const counter = Object.assign(
    new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        decoded += chunk.length;
        if (decoded > limit) {
          raw.unpipe(inflate);
          inflate.destroy();
          raw.resume();
          callback(tooLarge());
          return;
        }
        callback(null, chunk);
      },
      flush(callback: TransformCallback) {
        options.done(decoded);
        callback();
      },
    }),
    { receivedEncodedLength: 0 },
  );
  raw.on('data', (chunk: Buffer) => {
    counter.receivedEncodedLength += chunk.length;
  });
  inflate.on('error', (cause: Error) => {
    counter.destroy(
      new ConcordError(serviceKitErrors.BODY_ENCODING_INVALID, `request body is not valid ${encoding} data`, {
        cause,
      }),
    );
  });
  // Fastify listens for errors only while it reads the body; one after that (a request it never read, or
  // stopped reading) must not go unhandled and take the process down.
  counter.on('error', () => undefined);
  raw.pipe(inflate).pipe(counter);
  return counter;
};

/** A request sends a body when it says how long it is (non-zero) or sends it chunked. */
const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;

const bodyLimitOf = (request: FastifyRequest, fallback: number): number => {
  const limit = (request.routeOptions as { bodyLimit?: number }).bodyLimit;
  return typeof limit === 'number' ? limit : fallback;
};

type Encoding = 'br' | 'gzip';

/** The client's preferred encoding we offer, by `Accept-Encoding` q-values (ties: br, then gzip). */
export const negotiateEncoding = (header: string | undefined): Encoding | undefined => {
  if (header === undefined) return undefined;
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam === undefined ? 1 : Number(qParam.slice(2));
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  const weight = (name: Encoding): number => q.get(name) ?? q.get('*') ?? 0;
  const best = (['br', 'gzip'] as const).reduce<Encoding | undefined>(
    (chosen, name) =>
      weight(name) > 0 && (chosen === undefined || weight(name) > weight(chosen)) ? name : chosen,
    undefined,
  );
  return best;
};

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

const compress = (payload: Buffer | string, encoding: Encoding): Promise<Buffer> =>
  encoding === 'br'
    ? // Quality 4: most of brotli's gain at a fraction of the default 11's CPU.
      brotli(payload, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })
    : gzip(payload);

const compressible = (reply: FastifyReply, payload: unknown): payload is Buffer | string => {
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return false; // streams go out as they are
  if (Buffer.byteLength(payload) < COMPRESS_THRESHOLD_BYTES) return false;
  if (reply.hasHeader('content-encoding')) return false;
  const type = String(reply.getHeader('content-type') ?? '');
  return !type.startsWith('text/event-stream');
};

/**
 * Request bodies in `gzip`, `br` or `deflate` (`Content-Encoding`) are decompressed, held to the route's
 * body limit *after* decompression (a bomb gets 413 `CONCORD_BODY_TOO_LARGE`); another encoding is 415
 * `CONCORD_UNSUPPORTED_ENCODING`. Responses of 1 KiB or more are compressed with br or gzip when the
 * client's `Accept-Encoding` asks; Server-Sent Events (hijacked, streamed) never are.
 */
export const registerCompression = (app: FastifyInstance, bodyLimit: number): void => {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return payload;
    const name = header.trim().toLowerCase();
    if (name === '' || name === 'identity' || !hasBody(request)) return payload;
    const encoding = DECODINGS[name];
    if (encoding === undefined) {
      throw new ConcordError(
        serviceKitErrors.UNSUPPORTED_ENCODING,
        `unsupported Content-Encoding ${JSON.stringify(header)}`,
        {
          details: { supported: ['gzip', 'br', 'deflate', 'identity'] },
        },
      );
    }
    return decodedBody(payload, {
      encoding,
      limit: bodyLimitOf(request, bodyLimit),
      done: (bytes) => decodedSizes.set(request, bytes),
    });
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!compressible(reply, payload)) return payload;
    reply.header('vary', 'accept-encoding');
    const encoding = negotiateEncoding(request.headers['accept-encoding']);
    if (encoding === undefined) return payload;
    const compressed = await compress(payload, encoding);
    reply.header('content-encoding', encoding);
    reply.removeHeader('content-length');
    return compressed;
  });
};
