import { tenantPrefix } from '@concord/core/envelope';
import { SqlFragment } from './statement.js';

/**
 * Which tenants' rows a read takes (DESIGN §5 "Tenants"): `undefined`, every tenant's (Concord's own
 * readers: a rebuild, a relay); `{ tenant }`, that one tenant's (a caller's read), the default tenant's
 * when `tenant` is `undefined`. A row belongs to the tenant its scoped id (`column`) starts with.
 */
export type TenantScope = { readonly tenant: string | undefined } | undefined;

/** The parameter {@link tenantCondition} compares with: null (every tenant), '' (default) or the prefix. */
export const tenantScopeValue = (scope: TenantScope): string | null =>
  scope === undefined ? null : tenantPrefix(scope.tenant);

/**
 * The condition that keeps `column`'s rows of `scope`, for a text whose parameter `$n` holds
 * {@link tenantScopeValue}: the default tenant's ids hold no U+001F (chr(31)), a named tenant's start
 * with its prefix.
 */
export const tenantConditionText = (column: string, placeholder: string): string =>
  `(${placeholder}::text IS NULL OR CASE WHEN ${placeholder}::text = '' THEN strpos(${column}, chr(31)) = 0 ` +
  `ELSE starts_with(${column}, ${placeholder}::text) END)`;

/** {@link tenantConditionText} as a fragment of a `statement`. */
export const tenantCondition = (column: string, scope: TenantScope): SqlFragment =>
  new SqlFragment((placeholder) => tenantConditionText(column, placeholder(tenantScopeValue(scope))));
