import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../src/signature.js';

describe('webhook signature', () => {
  const body = '{"id":"1","kind":"applied"}';

  it('is sha256=<hex HMAC-SHA256 of the raw body with the secret>', () => {
    const expected = createHmac('sha256', 'top-secret').update(body).digest('hex');
    expect(signBody(body, 'top-secret')).toBe(`sha256=${expected}`);
    expect(signBody(Buffer.from(body), 'top-secret')).toBe(`sha256=${expected}`);
  });

  it('verifies the header a receiver got, and only that', () => {
    const header = signBody(body, 'top-secret');
    expect(verifySignature(body, 'top-secret', header)).toBe(true);
    expect(verifySignature(body, 'other-secret', header)).toBe(false);
    expect(verifySignature(`${body} `, 'top-secret', header)).toBe(false);
    expect(verifySignature(body, 'top-secret', header.slice(0, -1))).toBe(false);
    expect(verifySignature(body, 'top-secret', undefined)).toBe(false);
  });
});
