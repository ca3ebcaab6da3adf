import { ConcordError } from '@concord/core';
import { isUnstorableText } from '@concord/core/envelope';
import type { FastifyInstance } from 'fastify';
import { serviceKitErrors } from '../errors.js';
import { cursorOf, filterOf, kindOf, limitOf, replayRequestOf } from './request.js';
import { LIST_SCHEMA, REPLAY_MANY_SCHEMA, REPLAY_ONE_SCHEMA } from './schemas.js';
import type { DeadLetterKind, DeadLetterSource } from './types.js';

/** Every dead-letter route needs the admin scope (DESIGN §5). */
const ADMIN = { scope: 'admin' } as const;

type Input = Readonly<Record<string, unknown>>;

/**
 * `GET /v1/dead-letters`, `POST /v1/dead-letters/:kind/:id/replay` and `POST /v1/dead-letters/:kind/replay`
 * over the sources this service keeps (DESIGN §5 "Dead letters"). Request schemas are documentation
 * (`attachValidation`): the handlers check their input and answer with Concord's codes.
 */
export const registerDeadLetterRoutes = (
  app: FastifyInstance,
  sources: readonly DeadLetterSource[],
): void => {
  const byKind = new Map(sources.map((source) => [source.kind, source]));
  const sourceOf = (kind: DeadLetterKind): DeadLetterSource => {
    const source = byKind.get(kind);
    if (source === undefined) {
      throw new ConcordError(
        serviceKitErrors.DEAD_LETTER_KIND_UNAVAILABLE,
        `this service keeps no ${kind} dead letters (it keeps: ${[...byKind.keys()].join(', ')})`,
        { details: { kind, kinds: [...byKind.keys()] } },
      );
    }
    return source;
  };

  app.get<{ Querystring: Input }>(
    '/v1/dead-letters',
    { config: ADMIN, schema: LIST_SCHEMA, attachValidation: true },
    async (request) => {
      const kind = kindOf(request.query['kind']);
      const source = sourceOf(kind);
      const filter = filterOf(request.query, source.filters, kind);
      const limit = limitOf(request.query['limit']);
      const after = cursorOf(request.query['after']);
      const page = await source.list({ limit, filter, ...(after === undefined ? {} : { after }) });
      return { kind, deadLetters: page.deadLetters, next: page.next };
    },
  );

  app.post<{ Params: { kind: string; id: string } }>(
    '/v1/dead-letters/:kind/:id/replay',
    { config: ADMIN, schema: REPLAY_ONE_SCHEMA, attachValidation: true },
    async (request) => {
      const kind = kindOf(request.params.kind);
      const source = sourceOf(kind);
      const { id } = request.params;
      const notFound = () =>
        new ConcordError(
          serviceKitErrors.DEAD_LETTER_NOT_FOUND,
          `no ${kind} dead letter ${JSON.stringify(id)}`,
          {
            details: { kind, id },
          },
        );
      // No dead letter has text Postgres cannot store in its id: not found, without a failed query.
      if (isUnstorableText(id)) throw notFound();
      const outcome = await source.replay([id]);
      const refused = outcome.refused[0];
      if (refused !== undefined) {
        throw new ConcordError(serviceKitErrors.DEAD_LETTER_NOT_REPLAYABLE, refused.message, {
          details: { kind, id, reason: refused.reason },
        });
      }
      if (outcome.replayed.length === 0) throw notFound();
      return { kind, replayed: outcome.replayed };
    },
  );

  app.post<{ Params: { kind: string } }>(
    '/v1/dead-letters/:kind/replay',
    { config: ADMIN, schema: REPLAY_MANY_SCHEMA, attachValidation: true },
    async (request) => {
      const kind = kindOf(request.params.kind);
      const source = sourceOf(kind);
      const wanted = replayRequestOf(request.body, source.filters, kind);
      if ('ids' in wanted) {
        const outcome = await source.replay(wanted.ids);
        return { kind, ...outcome, more: false };
      }
      const { replayed, more } = await source.replayMatching(wanted.filter, wanted.limit);
      return { kind, replayed, missing: [], refused: [], more };
    },
  );
};
