/**
 * docs/errors.md, generated from the packages' error tables (each package's `src/errors.ts`, made with
 * `defineErrors` of `@concord/core`). `node --import tsx test/support/error-docs.ts` writes it;
 * test/support/error-codes.unit.test.ts fails when the file differs from what the tables give.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busErrors } from '../../packages/bus/src/errors.js';
import { cliErrors } from '../../packages/cli/src/errors.js';
import { clientErrors } from '../../packages/client/src/errors.js';
import { coreErrors } from '../../packages/core/src/errors.js';
import type { ErrorDefinition } from '../../packages/core/src/errors.js';
import { outboxErrors } from '../../packages/outbox/src/errors.js';
import { serviceKitErrors } from '../../packages/service-kit/src/errors.js';
import { ingestErrors } from '../../services/ingest/src/errors.js';
import { notifierErrors } from '../../services/notifier/src/errors.js';
import { verifyErrors } from '../../services/notifier/src/verify.js';
import { projectorErrors } from '../../services/projector/src/errors.js';
import { resolverErrors } from '../../services/resolver/src/errors.js';

export interface ErrorSection {
  readonly title: string;
  /** The table's name in code, and the file that defines it. */
  readonly table: string;
  readonly file: string;
  readonly errors: Readonly<Record<string, ErrorDefinition>>;
}

/** Every error table, in the order the document lists them. */
export const ERROR_SECTIONS: readonly ErrorSection[] = [
  {
    title: 'Events, batches, versions and policies (`@concord/core`)',
    table: 'coreErrors',
    file: 'packages/core/src/errors.ts',
    errors: coreErrors,
  },
  {
    title: 'Message bus (`@concord/bus`)',
    table: 'busErrors',
    file: 'packages/bus/src/errors.ts',
    errors: busErrors,
  },
  {
    title: 'Outbox, event store and migrations (`@concord/outbox`)',
    table: 'outboxErrors',
    file: 'packages/outbox/src/errors.ts',
    errors: outboxErrors,
  },
  {
    title: 'HTTP and service lifecycle (`@concord/service-kit`)',
    table: 'serviceKitErrors',
    file: 'packages/service-kit/src/errors.ts',
    errors: serviceKitErrors,
  },
  { title: 'Ingest', table: 'ingestErrors', file: 'services/ingest/src/errors.ts', errors: ingestErrors },
  {
    title: 'Resolver',
    table: 'resolverErrors',
    file: 'services/resolver/src/errors.ts',
    errors: resolverErrors,
  },
  {
    title: 'Projector',
    table: 'projectorErrors',
    file: 'services/projector/src/errors.ts',
    errors: projectorErrors,
  },
  {
    title: 'Notifier',
    table: 'notifierErrors',
    file: 'services/notifier/src/errors.ts',
    errors: notifierErrors,
  },
  {
    title: 'Webhook verification (`@concord/notifier/verify`, for receivers)',
    table: 'verifyErrors',
    file: 'services/notifier/src/verify.ts',
    errors: verifyErrors,
  },
  {
    title: 'Client SDK (`@concord/client`)',
    table: 'clientErrors',
    file: 'packages/client/src/errors.ts',
    errors: clientErrors,
  },
  { title: 'CLI (`concord`)', table: 'cliErrors', file: 'packages/cli/src/errors.ts', errors: cliErrors },
];

const HEADER = `# Error codes

<!-- Generated from the packages' error tables by test/support/error-docs.ts: edit the tables, then run
     \`node --import tsx test/support/error-docs.ts\`. -->

Every error Concord reports carries a stable \`CONCORD_…\` code: in HTTP answers
(\`{ "error": { "code", "message", "details"? } }\`), in per-event results and outcomes (\`error.code\`), in dead-letter
headers (\`x-concord-error-code\`), and on errors thrown by the packages (\`ConcordError.code\`, with \`retryable\`).
Codes are never renamed.

Each package lists its codes in one table (\`src/errors.ts\`, made with \`defineErrors\` of \`@concord/core\`), and
every error is made from an entry of it. Columns: \`retryable\`, whether trying again can help (consumers retry or
dead-letter on it alone); \`HTTP\`, the status an answer carrying the code gets; \`per event\`, the event is
\`rejected\` with the code in its result and outcome, its batch answers 200; \`—\`, the code never reaches an answer on
its own (an error that still does answers 503 when retryable, else 400).

\`test/support/error-codes.unit.test.ts\` fails when this page is not what the tables give, when a code is written
as a literal outside its table, or when a table lists a code nothing uses.
`;

const cell = (text: string): string => text.replaceAll('|', '\\|');

const row = (error: ErrorDefinition): string => {
  const status = error.status === undefined ? '—' : String(error.status);
  return `| \`${error.code}\` | ${error.retryable ? 'yes' : 'no'} | ${status} | ${cell(error.message)} |`;
};

/** The document the tables give. */
export const renderErrorsDoc = (): string =>
  [
    HEADER,
    ...ERROR_SECTIONS.map((section) =>
      [
        `## ${section.title}`,
        '',
        `\`${section.table}\` in \`${section.file}\`.`,
        '',
        '| code | retryable | HTTP | meaning |',
        '|---|---|---|---|',
        ...Object.values(section.errors).map(row),
        '',
      ].join('\n'),
    ),
  ].join('\n');

export const ERRORS_DOC = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/errors.md');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ERRORS_DOC, renderErrorsDoc());
}
