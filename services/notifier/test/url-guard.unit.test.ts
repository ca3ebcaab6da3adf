import { isConcordError } from '@concord/core';
import { describe, expect, it } from 'vitest';
import { isPrivateAddress, validateWebhookUrl } from '../src/url-guard.js';
import type { ResolveHost } from '../src/url-guard.js';

const resolver =
  (table: Record<string, readonly string[]>): ResolveHost =>
  (hostname) => {
    const addresses = table[hostname];
    return addresses === undefined
      ? Promise.reject(new Error(`ENOTFOUND ${hostname}`))
      : Promise.resolve(addresses);
  };

const codeOf = async (work: Promise<unknown>): Promise<string> => {
  try {
    await work;
    return 'ok';
  } catch (error) {
    return isConcordError(error) ? error.code : `unexpected: ${String(error)}`;
  }
};

describe('private address ranges', () => {
  it.each([
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '192.0.2.10',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '64:ff9b::192.168.0.1',
    '64:ff9b::c0a8:1',
    // The IPv4 forms as the URL parser writes them, and the other ways IPv6 carries IPv4.
    '::7f00:1',
    '::127.0.0.1',
    '::ffff:0:7f00:1',
    '0:0:0:0:0:ffff:7f00:1',
    '2002:7f00:1::1',
    '2002:c0a8:101::',
    '64:ff9b:1::a00:1',
    '2001:db8::1',
    '[::1]',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('validateWebhookUrl', () => {
  const resolve = resolver({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
    'internal.example.com': ['93.184.216.34', '10.0.0.7'],
    localhost: ['127.0.0.1', '::1'],
    'empty.example.com': [],
  });
  const strict = { allowPrivate: false, resolve };

  it('accepts public http and https URLs and normalises them', async () => {
    const url = await validateWebhookUrl('HTTPS://Hooks.Example.com/concord?x=1', strict);
    expect(url.href).toBe('https://hooks.example.com/concord?x=1');
    await expect(validateWebhookUrl('http://93.184.216.34:8080/hook', strict)).resolves.toBeInstanceOf(URL);
  });

  it('refuses other schemes, credentials and garbage with stable codes', async () => {
    expect(await codeOf(validateWebhookUrl('ftp://hooks.example.com/x', strict))).toBe(
      'CONCORD_WEBHOOK_URL_SCHEME',
    );
    expect(await codeOf(validateWebhookUrl('file:///etc/passwd', strict))).toBe('CONCORD_WEBHOOK_URL_SCHEME');
    expect(await codeOf(validateWebhookUrl('javascript:alert(1)', strict))).toBe(
      'CONCORD_WEBHOOK_URL_SCHEME',
    );
    expect(await codeOf(validateWebhookUrl('https://user:pw@hooks.example.com/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_CREDENTIALS',
    );
    expect(await codeOf(validateWebhookUrl('https://user@hooks.example.com/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_CREDENTIALS',
    );
    expect(await codeOf(validateWebhookUrl('not a url', strict))).toBe('CONCORD_WEBHOOK_URL_INVALID');
  });

  it('refuses private literal addresses, including obfuscated forms', async () => {
    for (const url of [
      'http://127.0.0.1/hook',
      'http://[::1]:8080/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://[::ffff:127.0.0.1]/',
      'http://10.0.0.1/',
    ]) {
      expect(await codeOf(validateWebhookUrl(url, strict)), url).toBe('CONCORD_WEBHOOK_URL_PRIVATE');
    }
  });

  it('resolves host names and refuses when any address is private', async () => {
    expect(await codeOf(validateWebhookUrl('http://localhost:3000/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_PRIVATE',
    );
    expect(await codeOf(validateWebhookUrl('https://internal.example.com/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_PRIVATE',
    );
    expect(await codeOf(validateWebhookUrl('https://nowhere.example.com/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_UNRESOLVABLE',
    );
    expect(await codeOf(validateWebhookUrl('https://empty.example.com/', strict))).toBe(
      'CONCORD_WEBHOOK_URL_UNRESOLVABLE',
    );
  });

  it('allows private addresses only when configured, and still checks scheme and credentials', async () => {
    const open = { allowPrivate: true, resolve };
    await expect(validateWebhookUrl('http://127.0.0.1:9999/hook', open)).resolves.toBeInstanceOf(URL);
    await expect(validateWebhookUrl('http://localhost/hook', open)).resolves.toBeInstanceOf(URL);
    expect(await codeOf(validateWebhookUrl('ftp://127.0.0.1/', open))).toBe('CONCORD_WEBHOOK_URL_SCHEME');
    expect(await codeOf(validateWebhookUrl('http://a:b@127.0.0.1/', open))).toBe(
      'CONCORD_WEBHOOK_URL_CREDENTIALS',
    );
  });
});
