import { describe, expect, it } from 'vitest';
import { maskUrl } from '../src/mask-url.js';

describe('maskUrl', () => {
  it.each([
    ['https://hooks.example.com/concord', 'https://hooks.example.com/concord'],
    ['https://hooks.example.com:8443/a/b?token=s3cr3t', 'https://hooks.example.com:8443/a/b?token=***'],
    [
      'https://hooks.example.com/?token=a&sig=b%20c&empty=',
      'https://hooks.example.com/?token=***&sig=***&empty=***',
    ],
    ['https://hooks.example.com/?abc123', 'https://hooks.example.com/?***'],
    ['https://hooks.example.com/x#frag-token', 'https://hooks.example.com/x#***'],
    ['https://me:pw@hooks.example.com/x?k=v', 'https://***:***@hooks.example.com/x?k=***'],
    ['https://me@hooks.example.com/x', 'https://***@hooks.example.com/x'],
    ['not a url?token=abc', '***'],
  ])('shows %s as %s', (url, shown) => {
    expect(maskUrl(url)).toBe(shown);
  });
});
