import { randomUUID } from 'node:crypto';
import { findUnstorableText, isUnstorableText } from '@concord/core/envelope';
import type { Database } from '@concord/outbox';
import { tenantOf } from '@concord/service-kit';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import { NOTIFICATION_FORMATS } from '../cloudevent.js';
import { notifierErrors } from '../errors.js';
import { parseFilter } from '../filter.js';
import { maskUrl } from '../mask-url.js';
import type { DeliveryStore } from '../store/deliveries.js';
import { publicView } from '../store/subscriptions.js';
import type { Subscription, SubscriptionStore } from '../store/subscriptions.js';
import { validateWebhookUrl } from '../url-guard.js';
import type { ResolveHost } from '../url-guard.js';
import { webhookSigningKey } from '../verify.js';
import {
  CREATE_SCHEMA,
  DEAD_LETTERS_SCHEMA,
  DELETE_SCHEMA,
  GET_SCHEMA,
  LIST_SCHEMA,
  ROTATE_SECRET_SCHEMA,
} from './schemas.js';
import { ConcordError } from '@concord/core';

/** A `whsec_` secret is a base64 key (Standard Webhooks); any other is used as its UTF-8 bytes. */
const isSigningSecret = (secret: string): boolean => {
  try {
    webhookSigningKey(secret);
    return true;
  } catch {
    return false;
  }
};

const secretSchema = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(1024)
  .refine(isSigningSecret, 'a whsec_ secret must be followed by base64 of at least 8 bytes');

const bodySchema = z.object({
  url: z.string().min(1).max(2048),
  filter: z.unknown().optional(),
  secret: secretSchema,
  format: z.enum(NOTIFICATION_FORMATS).optional(),
});

/** How long a rotated-out secret keeps signing: default a day, at most a week, 0 for not at all. */
export const DEFAULT_PREVIOUS_SECRET_TTL_SECONDS = 86_400;
const MAX_PREVIOUS_SECRET_TTL_SECONDS = 7 * 86_400;

const rotationSchema = z.object({
  secret: secretSchema,
  previousSecretTtlSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_PREVIOUS_SECRET_TTL_SECONDS)
    .default(DEFAULT_PREVIOUS_SECRET_TTL_SECONDS),
});

const invalidBody = (message: string, issues: readonly z.core.$ZodIssue[]) =>
  new ConcordError(notifierErrors.SUBSCRIPTION_INVALID, message, {
    details: issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  });

/** Refuses a body with text Postgres cannot store anywhere in it (it is stored). */
const refuseUnstorable = (body: unknown): void => {
  const unstorable = findUnstorableText(body, '');
  if (unstorable === undefined) return;
  const where = unstorable.path === '' ? 'the body' : unstorable.path;
  throw new ConcordError(notifierErrors.SUBSCRIPTION_INVALID, `${where} ${unstorable.why}`, {
    details: [{ path: unstorable.path, message: unstorable.why }],
  });
};

export interface SubscriptionRoutesOptions {
  readonly db: Database;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryStore;
  readonly allowPrivateUrls: boolean;
  readonly resolveHost?: ResolveHost;
  /** Told of a subscription once it is deleted (the module forgets its endpoint's circuit). */
  readonly onDeleted?: (subscription: Subscription) => Promise<void>;
  /** New subscription ids; default random UUIDs. */
  readonly newId?: () => string;
}

/** Every subscription route needs the `subscriptions:manage` scope (DESIGN §5). */
const manage = <S extends FastifySchema>(schema: S) =>
  ({ config: { scope: 'subscriptions:manage' }, schema }) as const;

/**
 * `POST /v1/subscriptions` `{ url, filter?, secret, format? }` (`format`: `json`, the default, or
 * `cloudevents`: webhooks carry structured-mode CloudEvents) → 201 (the secret is never returned; every
 * view masks the URL's query values and credentials),
 * `GET /v1/subscriptions`, `GET /v1/subscriptions/:id`, `DELETE /v1/subscriptions/:id` (204),
 * `GET /v1/subscriptions/:id/dead-letters`, `POST /v1/subscriptions/:id/secret`
 * `{ secret, previousSecretTtlSeconds? }` (rotation).
 *
 * A subscription belongs to the tenant of the caller who created it (DESIGN §5 "Tenants"): a caller lists
 * only its tenant's, and another tenant's is not found on every `:id` route, as if it did not exist.
 */
export const registerSubscriptionRoutes = (
  app: FastifyInstance,
  options: SubscriptionRoutesOptions,
): void => {
  const { db, subscriptions } = options;
  const newId = options.newId ?? randomUUID;

  const notFound = (id: string) =>
    new ConcordError(notifierErrors.SUBSCRIPTION_NOT_FOUND, `subscription ${id} not found`);

  // No subscription has an id Postgres cannot store (U+0000): not found, without a failed query.
  const found = async (request: FastifyRequest, id: string) => {
    const subscription = isUnstorableText(id)
      ? undefined
      : await subscriptions.get(db, id, { tenant: tenantOf(request) });
    if (subscription === undefined) throw notFound(id);
    return subscription;
  };

  app.post('/v1/subscriptions', manage(CREATE_SCHEMA), async (request, reply) => {
    refuseUnstorable(request.body);
    const parsed = bodySchema.safeParse(request.body);
    if (!parsed.success) {
      throw invalidBody('subscription must be { url, filter?, secret, format? }', parsed.error.issues);
    }
    const filter = parseFilter(parsed.data.filter);
    const url = await validateWebhookUrl(parsed.data.url, {
      allowPrivate: options.allowPrivateUrls,
      ...(options.resolveHost === undefined ? {} : { resolve: options.resolveHost }),
    });
    const created = await subscriptions.create(db, {
      id: newId(),
      url: url.href,
      filter,
      format: parsed.data.format ?? 'json',
      secret: parsed.data.secret,
      tenant: tenantOf(request),
    });
    return reply.status(201).header('location', `/v1/subscriptions/${created.id}`).send(created);
  });

  app.get('/v1/subscriptions', manage(LIST_SCHEMA), async (request) => ({
    subscriptions: (await subscriptions.list(db, { tenant: tenantOf(request) })).map(publicView),
  }));

  app.get<{ Params: { id: string } }>('/v1/subscriptions/:id', manage(GET_SCHEMA), async (request) =>
    publicView(await found(request, request.params.id)),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/subscriptions/:id/dead-letters',
    manage(DEAD_LETTERS_SCHEMA),
    async (request) => {
      await found(request, request.params.id);
      const letters = await options.deliveries.deadLetters(db, request.params.id);
      return { deadLetters: letters.map((letter) => ({ ...letter, url: maskUrl(letter.url) })) };
    },
  );

  // Sender-side rotation: the new secret signs from now on; the replaced one keeps signing beside it for
  // `previousSecretTtlSeconds`, so a receiver can switch to the new secret without refusing a delivery.
  app.post<{ Params: { id: string } }>(
    '/v1/subscriptions/:id/secret',
    manage(ROTATE_SECRET_SCHEMA),
    async (request) => {
      refuseUnstorable(request.body);
      const parsed = rotationSchema.safeParse(request.body);
      if (!parsed.success) {
        throw invalidBody('rotation must be { secret, previousSecretTtlSeconds? }', parsed.error.issues);
      }
      const { id } = await found(request, request.params.id);
      const ttl = parsed.data.previousSecretTtlSeconds;
      const result = await subscriptions.rotateSecret(db, id, parsed.data.secret, ttl);
      if (!result.rotated) {
        await found(request, id); // deleted meanwhile: 404
        throw new ConcordError(
          notifierErrors.SUBSCRIPTION_ROTATION_PENDING,
          `subscription ${id} still signs with the secret an earlier rotation replaced: rotate again once ` +
            'that grace period ends, or with previousSecretTtlSeconds 0 (no grace period for either)',
        );
      }
      return { id, previousSecretExpiresAt: result.previousExpiresAt };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/subscriptions/:id',
    manage(DELETE_SCHEMA),
    async (request, reply) => {
      const subscription = await found(request, request.params.id);
      if (!(await subscriptions.remove(db, subscription.id))) throw notFound(subscription.id);
      await options.onDeleted?.(subscription);
      return reply.status(204).send();
    },
  );
};
