import type { MessageBus } from '@concord/bus';
import type { Logger } from '@concord/core';
import type { Database } from '@concord/outbox';
import type { ServiceModule } from '../service.js';
import { createDeadLetterCollector } from './collector.js';
import type { CollectedGroup } from './collector.js';
import { registerDeadLetterRoutes } from './routes.js';
import { busDeadLetterSource, outboxDeadLetterSource } from './sources.js';
import type { DeadLetterSource } from './types.js';

export interface DeadLettersModuleDeps {
  readonly db: Database;
  readonly bus: MessageBus;
  readonly logger: Logger;
  readonly schema?: string;
  /**
   * The service's own consumer groups and the topics they read (`consumersIn(topology, service)`; every
   * group in the all-in-one process): their `<topic>.dlq` is collected, and only their bus dead letters
   * are listed and replayed here.
   */
  readonly consumers: readonly CollectedGroup[];
  /** Further kinds the service keeps: the notifier's webhook deliveries. */
  readonly sources?: readonly DeadLetterSource[];
}

/**
 * Dead letters of a service (DESIGN §5 "Dead letters"): its outbox's, its consumer groups' from the bus
 * (collected from `<topic>.dlq` while it runs), and whatever `sources` add; listed and replayed by the
 * admin-only `/v1/dead-letters` routes.
 */
export const createDeadLettersModule = (deps: DeadLettersModuleDeps): ServiceModule => {
  const schema = deps.schema === undefined ? {} : { schema: deps.schema };
  const groups = [...new Set(deps.consumers.map((consumer) => consumer.group))];
  const sources: DeadLetterSource[] = [
    outboxDeadLetterSource({ db: deps.db, ...schema }),
    busDeadLetterSource({ db: deps.db, groups, ...schema }),
    ...(deps.sources ?? []),
  ];
  const collector = createDeadLetterCollector({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    consumers: deps.consumers,
    ...schema,
  });
  return {
    name: 'dead-letters',
    routes: (app) => registerDeadLetterRoutes(app, sources),
    start: () => collector.start(),
    close: () => collector.close(),
  };
};
