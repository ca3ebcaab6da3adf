const MASK = '***';

/**
 * A webhook URL as the API shows it: every query parameter's value (a bare parameter whole), the fragment and any user name or
 * password replaced by `***` (they are where endpoints carry tokens); scheme, host, port, path and the
 * parameter names stay. The stored URL is unchanged and deliveries use it whole. Text that does not
 * parse as a URL (only a row written around the API could hold one) is shown as `***`.
 */
export const maskUrl = (text: string): string => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return MASK;
  }
  const userinfo =
    url.username === '' && url.password === '' ? '' : `${MASK}${url.password === '' ? '' : `:${MASK}`}@`;
  const query =
    url.search === ''
      ? ''
      : `?${url.search
          .slice(1)
          .split('&')
          .map((pair) => {
            const equals = pair.indexOf('=');
            // A bare parameter (`?abc123`) may be the token itself.
            if (equals < 0) return pair === '' ? '' : MASK;
            return `${pair.slice(0, equals)}=${MASK}`;
          })
          .join('&')}`;
  const fragment = url.hash === '' ? '' : `#${MASK}`;
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}${fragment}`;
};
