/**
 * `@concord/service-kit/openapi`: what routes use to describe themselves in the OpenAPI document
 * (`/openapi.json`, DESIGN §5) — shared schemas, JSON and error responses — and how a Fastify path reads
 * as an OpenAPI path template.
 */
export { errorResponse, jsonResponse, namedSchema, NO_CONTENT, openApiPath } from './openapi-schemas.js';
