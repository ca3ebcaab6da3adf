import type { Command } from '../command.js';
import { aggregatesGet } from './aggregates.js';
import { conflictsDecide, conflictsList, conflictsShow } from './conflicts.js';
import { deadLettersList, deadLettersReplay } from './dead-letters.js';
import { eventsFeed, eventsGet } from './events.js';
import { migrateCommand } from './migrate.js';
import { policyDryRun, policyValidate } from './policy.js';
import { publishCommand } from './publish.js';
import { tailCommand } from './tail.js';

/** Every command of `concord`, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  publishCommand,
  tailCommand,
  eventsGet,
  eventsFeed,
  conflictsList,
  conflictsShow,
  conflictsDecide,
  aggregatesGet,
  deadLettersList,
  deadLettersReplay,
  policyValidate,
  policyDryRun,
  migrateCommand,
];
