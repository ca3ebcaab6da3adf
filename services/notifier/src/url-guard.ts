import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { notifierErrors } from './errors.js';
import { ConcordError } from '@concord/core';

/** Resolves a host name to every address it has (injectable so tests need no DNS). */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: ResolveHost = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * Addresses a webhook must not reach unless private URLs are allowed: "this network", private
 * (RFC 1918, ULA), shared (CGNAT), loopback, link-local, documentation, benchmarking, multicast,
 * reserved and broadcast ranges, for IPv4 and IPv6, and local-use NAT64 (`64:ff9b:1::/48`, which leads
 * into a network's own IPv4 ranges).
 */
const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted quad as two groups). */
const ipv6Groups = (address: string): number[] => {
  let text = address.toLowerCase();
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
};

/**
 * The IPv4 address an IPv6 address carries, where the IPv6 range is a way to reach IPv4: mapped
 * (`::ffff:0:0/96`), compatible (`::/96`), translated (`::ffff:0:0:0/96`), NAT64 (`64:ff9b::/96`) and
 * 6to4 (`2002::/16`), in whichever notation the address is written.
 */
const embeddedIpv4 = (address: string): string | undefined => {
  const g = ipv6Groups(address);
  const v4 = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join('.');
  const zero = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  if (zero(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return v4(g[6] ?? 0, g[7] ?? 0);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x2002) return v4(g[1] ?? 0, g[2] ?? 0);
  return undefined;
};

/** True when the literal address lies in a range webhooks may not reach. Unparseable input counts as private. */
export const isPrivateAddress = (address: string): boolean => {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4 !== undefined) return blocked.check(v4, 'ipv4');
    return blocked.check(bare, 'ipv6');
  }
  return true;
};

export interface UrlGuardOptions {
  /** Let webhooks reach private and loopback addresses (`NOTIFIER_ALLOW_PRIVATE_URLS=true`). */
  readonly allowPrivate: boolean;
  readonly resolve?: ResolveHost;
}

/**
 * Checks a webhook URL: it parses, is http(s), carries no credentials, and — unless private URLs are
 * allowed — neither its literal address nor any address its host name resolves to is private.
 * Returns the normalised URL; throws a `CONCORD_WEBHOOK_URL_*` error otherwise.
 */
export const validateWebhookUrl = async (raw: string, options: UrlGuardOptions): Promise<URL> => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new ConcordError(notifierErrors.WEBHOOK_URL_INVALID, 'webhook url is not a valid absolute URL', {
      cause,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConcordError(
      notifierErrors.WEBHOOK_URL_SCHEME,
      `webhook url scheme ${url.protocol} is not http or https`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConcordError(
      notifierErrors.WEBHOOK_URL_CREDENTIALS,
      'webhook url must not contain credentials',
    );
  }
  if (url.hostname === '')
    throw new ConcordError(notifierErrors.WEBHOOK_URL_INVALID, 'webhook url has no host');
  if (!options.allowPrivate) await assertPublicHost(url.hostname, options.resolve ?? systemResolver);
  return url;
};

/** Throws `CONCORD_WEBHOOK_URL_PRIVATE` unless every address of `hostname` is public. */
export const assertPublicHost = async (hostname: string, resolve: ResolveHost): Promise<void> => {
  const bare = hostname.replace(/^\[|\]$/g, '');
  let addresses: readonly string[];
  if (isIP(bare) !== 0) addresses = [bare];
  else {
    try {
      addresses = await resolve(bare);
    } catch (cause) {
      throw new ConcordError(
        notifierErrors.WEBHOOK_URL_UNRESOLVABLE,
        `webhook host ${hostname} does not resolve`,
        {
          cause,
        },
      );
    }
    if (addresses.length === 0) {
      throw new ConcordError(
        notifierErrors.WEBHOOK_URL_UNRESOLVABLE,
        `webhook host ${hostname} does not resolve`,
      );
    }
  }
  const refused = addresses.filter(isPrivateAddress);
  if (refused.length > 0) {
    throw new ConcordError(
      notifierErrors.WEBHOOK_URL_PRIVATE,
      `webhook host ${hostname} is a private, loopback or reserved address`,
      { details: { host: hostname, addresses: refused } },
    );
  }
};
