/**
 * Which tenants' rows a read takes (DESIGN §5 "Tenants"): `undefined`, every tenant's (Concord's own
 * readers: a rebuild); `{ tenant }`, that one tenant's (a caller's read), the default tenant's when
 * `tenant` is `undefined`.
 */
export type TenantScope = { readonly tenant: string | undefined } | undefined;

/**
 * The tenant a row belongs to, from its scoped id `column` (`<tenant>` U+001F `<id>`): the id's
 * prefix, '' for the default tenant's ids, which hold no U+001F (chr(31)). The events and conflicts
 * tables index this expression (store migration 0004, resolver migration 0003), so a read that compares
 * it with {@link tenantKey} pages through one tenant's rows without passing the others'. The indexes'
 * text must stay this one.
 */
export const tenantKeyText = (column: string): string =>
  `(CASE WHEN strpos(${column}, chr(31)) = 0 THEN '' ELSE split_part(${column}, chr(31), 1) END)`;

/** What {@link tenantKeyText} gives for `tenant`'s rows. */
export const tenantKey = (tenant: string | undefined): string => tenant ?? '';
