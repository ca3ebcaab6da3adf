import { randomUUID } from 'node:crypto';
import { findUnstorableText, isUnstorableText } from '@concord/core/envelope';
import type { Database } from '@concord/outbox';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NOTIFICATION_FORMATS } from '../cloudevent.js';
import { NotifierErrorCode, notifierError } from '../errors.js';
import { parseFilter } from '../filter.js';
import { maskUrl } from '../mask-url.js';
import type { DeliveryStore } from '../store/deliveries.js';
import { publicView } from '../store/subscriptions.js';
import type { Subscription, SubscriptionStore } from '../store/subscriptions.js';
import { validateWebhookUrl } from '../url-guard.js';
import type { ResolveHost } from '../url-guard.js';
import { webhookSigningKey } from '../verify.js';

/** A `whsec_` secret is a base64 key (Standard Webhooks); any other is used as its UTF-8 bytes. */
const isSigningSecret = (secret: string): boolean => {
  try {
    webhookSigningKey(secret);
    return true;
  } catch {
    return false;
  }
};

const bodySchema = z.object({
  url: z.string().min(1).max(2048),
  filter: z.unknown().optional(),
  secret: z
    .string()
    .min(8, 'must be at least 8 characters')
    .max(1024)
    .refine(isSigningSecret, 'a whsec_ secret must be followed by base64 of at least 8 bytes'),
  format: z.enum(NOTIFICATION_FORMATS).optional(),
});

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
const manage = { config: { scope: 'subscriptions:manage' } } as const;

/**
 * `POST /v1/subscriptions` `{ url, filter?, secret, format? }` (`format`: `json`, the default, or
 * `cloudevents`: webhooks carry structured-mode CloudEvents) → 201 (the secret is never returned; every
 * view masks the URL's query values and credentials),
 * `GET /v1/subscriptions`, `GET /v1/subscriptions/:id`, `DELETE /v1/subscriptions/:id` (204),
 * `GET /v1/subscriptions/:id/dead-letters`.
 */
export const registerSubscriptionRoutes = (
  app: FastifyInstance,
  options: SubscriptionRoutesOptions,
): void => {
  const { db, subscriptions } = options;
  const newId = options.newId ?? randomUUID;

  const notFound = (id: string) =>
    notifierError(NotifierErrorCode.subscriptionNotFound, `subscription ${id} not found`);

  // No subscription has an id Postgres cannot store (U+0000): not found, without a failed query.
  const found = async (id: string) => {
    const subscription = isUnstorableText(id) ? undefined : await subscriptions.get(db, id);
    if (subscription === undefined) throw notFound(id);
    return subscription;
  };

  app.post('/v1/subscriptions', manage, async (request, reply) => {
    // Filter, secret and URL are stored: text Postgres cannot store anywhere in the body is refused.
    const unstorable = findUnstorableText(request.body, '');
    if (unstorable !== undefined) {
      const where = unstorable.path === '' ? 'the body' : unstorable.path;
      throw notifierError(NotifierErrorCode.subscriptionInvalid, `${where} ${unstorable.why}`, {
        details: [{ path: unstorable.path, message: unstorable.why }],
      });
    }
    const parsed = bodySchema.safeParse(request.body);
    if (!parsed.success) {
      throw notifierError(
        NotifierErrorCode.subscriptionInvalid,
        'subscription must be { url, filter?, secret, format? }',
        {
          details: parsed.error.issues.map((issue) => ({
            path: issue.path.join('.'),
            message: issue.message,
          })),
        },
      );
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
    });
    return reply.status(201).header('location', `/v1/subscriptions/${created.id}`).send(created);
  });

  app.get('/v1/subscriptions', manage, async () => ({
    subscriptions: (await subscriptions.list(db)).map(publicView),
  }));

  app.get<{ Params: { id: string } }>('/v1/subscriptions/:id', manage, async (request) =>
    publicView(await found(request.params.id)),
  );

  app.get<{ Params: { id: string } }>('/v1/subscriptions/:id/dead-letters', manage, async (request) => {
    await found(request.params.id);
    const letters = await options.deliveries.deadLetters(db, request.params.id);
    return { deadLetters: letters.map((letter) => ({ ...letter, url: maskUrl(letter.url) })) };
  });

  app.delete<{ Params: { id: string } }>('/v1/subscriptions/:id', manage, async (request, reply) => {
    const subscription = await found(request.params.id);
    if (!(await subscriptions.remove(db, subscription.id))) throw notFound(subscription.id);
    await options.onDeleted?.(subscription);
    return reply.status(204).send();
  });
};
