import type { TenantScope } from '@concord/outbox';

/**
 * The notifier's tables name the tenant a row belongs to in a `tenant` column, NULL for the default
 * tenant (DESIGN §5 "Tenants"; migrations/0005_tenants.sql). Tenant names are never empty, so `''`
 * stands for the default tenant where a read compares.
 */

/** The parameter {@link tenantColumnCondition} compares with: null (every tenant), '' (default) or the name. */
export const tenantColumnValue = (scope: TenantScope): string | null =>
  scope === undefined ? null : (scope.tenant ?? '');

/** The condition that keeps the rows of `scope`, for a text whose parameter `placeholder` holds {@link tenantColumnValue}. */
export const tenantColumnCondition = (column: string, placeholder: string): string =>
  `(${placeholder}::text IS NULL OR coalesce(${column}, '') = ${placeholder}::text)`;
