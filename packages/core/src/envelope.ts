/** The event envelope (DESIGN §2): validation, limits, CloudEvents, storable text. */
export { DEFAULT_ENVELOPE_LIMITS } from './envelope/types.js';
export type { EnvelopeLimits, EventEnvelope } from './envelope/types.js';
export type { EventProblem } from './envelope/codes.js';
export {
  escapeUnstorable,
  findNonJson,
  findReservedMember,
  findUnstorableText,
  isUnstorableText,
} from './envelope/json-check.js';
export type { EventValidation } from './envelope/validate.js';
export { isCloudEvent, validateCloudEvent } from './envelope/cloudevents.js';
export { validateBatch, validateEvent } from './envelope/index.js';
export {
  MAX_TENANT_LENGTH,
  TENANT_SEPARATOR,
  isTenantName,
  localId,
  scopeId,
  scopeRequestedId,
  tenantOfId,
  unscopeJson,
} from './envelope/tenants.js';
