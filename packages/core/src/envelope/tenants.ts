/**
 * Tenants (DESIGN §5 "Tenants"): every id a tenant's writes bring in is scoped by its tenant before it is
 * stored or published, `<tenant>` U+001F `<id>`, so the same event id or aggregate id in two tenants is
 * two events or aggregates in every table, topic key, inbox and derived message id, with nothing else
 * changed downstream. U+001F is a control character, which no submitted id may contain (validation
 * refuses it), so a scoped id cannot be forged, and an id without it belongs to the default tenant (a
 * caller whose credential names no tenant, or any caller with authentication off). Edges scope what comes
 * in and strip the caller's own prefix from what goes out, so a tenant only ever sees its plain ids.
 */

/** Separates a tenant from an id inside Concord. */
export const TENANT_SEPARATOR = '\u001f';

/** Longest tenant name: a scoped id is at most this plus the separator longer than the id. */
export const MAX_TENANT_LENGTH = 63;

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A tenant name: 1–63 letters, digits, `.`, `_` or `-`, starting with a letter or digit. */
export const isTenantName = (value: string): boolean => TENANT_NAME.test(value);

/** What a scoped id starts with for `tenant`; the default tenant (`undefined`) has no prefix. */
export const tenantPrefix = (tenant: string | undefined): string =>
  tenant === undefined ? '' : `${tenant}${TENANT_SEPARATOR}`;

/** `id` as stored for `tenant`: prefixed for a named tenant, unchanged for the default one. */
export const scopeId = (tenant: string | undefined, id: string): string => `${tenantPrefix(tenant)}${id}`;

/**
 * An id a caller of `tenant` names (in a path or a query), as stored; `undefined` when it cannot name
 * anything of the caller's: it already holds the separator (forged, or another tenant's scoped id).
 */
export const scopeRequestedId = (tenant: string | undefined, id: string): string | undefined =>
  id.includes(TENANT_SEPARATOR) ? undefined : scopeId(tenant, id);

/** The tenant a stored id belongs to (`undefined`: the default tenant). */
export const tenantOfId = (id: string): string | undefined => {
  const at = id.indexOf(TENANT_SEPARATOR);
  return at < 0 ? undefined : id.slice(0, at);
};

/** A stored id without its tenant's prefix, as its tenant knows it. */
export const localId = (id: string): string => {
  const at = id.indexOf(TENANT_SEPARATOR);
  return at < 0 ? id : id.slice(at + 1);
};

/**
 * `value` (a JSON value: a response body, a notification) as `tenant` sees it: its own prefix taken out
 * of every string and member name, wherever in the text it stands (an explanation may quote an id). The
 * default tenant's values have no prefix, so they are returned as they are.
 */
export const unscopeJson = <T>(tenant: string | undefined, value: T): T => {
  if (tenant === undefined) return value;
  const prefix = tenantPrefix(tenant);
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return item.includes(TENANT_SEPARATOR) ? item.replaceAll(prefix, '') : item;
    if (Array.isArray(item)) return item.map(walk);
    if (item === null || typeof item !== 'object') return item;
    if (typeof (item as { toJSON?: unknown }).toJSON === 'function') return item;
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(item)) {
      const name = key.includes(TENANT_SEPARATOR) ? key.replaceAll(prefix, '') : key;
      // defineProperty, not assignment: a member named `__proto__` stays a member.
      Object.defineProperty(out, name, {
        value: walk(member),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return walk(value) as T;
};
