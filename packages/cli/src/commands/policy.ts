import { coreErrors } from '@concord/core';
import { loadPolicy } from '@concord/core/policy';
import type { PolicyProblem } from '@concord/core/policy';
import type { Command } from '../command.js';
import { stringOption } from '../command.js';
import { ExitCode } from '../errors.js';
import { readJson, httpFailure } from '../http.js';
import { readInput } from '../input.js';
import type { CliIo } from '../io.js';
import { writeJson, writeLine } from '../io.js';
import { intOption } from '../options.js';
import { policyLocator } from '../policy-locations.js';
import type { PolicyLocator } from '../policy-locations.js';

/** A problem or warning with its place in the file, when the path names one. */
interface LocatedProblem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

const isJsonFile = (name: string): boolean => name.toLowerCase().endsWith('.json');

const located = (locator: PolicyLocator, problems: readonly PolicyProblem[]): LocatedProblem[] =>
  problems.map((problem) => {
    const where = locator.locate(problem.path, { key: problem.message.startsWith('unknown key') });
    return { path: problem.path, message: problem.message, ...where };
  });

const printProblems = (
  io: CliIo,
  file: string,
  severity: 'error' | 'warning',
  problems: readonly LocatedProblem[],
): void => {
  for (const p of problems) {
    const where = p.line === undefined ? file : `${file}:${p.line}:${p.column}`;
    writeLine(io.stdout, `${where}: ${severity}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
  }
};

export const policyValidate: Command = {
  path: ['policy', 'validate'],
  args: '<file>',
  summary: "checks a policy file (YAML or JSON) with core's loader, every problem with its place",
  details: [
    'Prints `<file>:<line>:<column>: error: <path>: <message>` per problem and `warning:` lines for',
    'warnings; exit 1 when there is any problem (warnings alone pass). `-` reads stdin.',
    'Custom strategies and `custom_match` specs (CONCORD_EXTENSIONS) are not known here.',
  ],
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ io, global, positionals }) {
    const input = await readInput(io, positionals[0]);
    const locator = policyLocator(input.text);
    const json = isJsonFile(input.name);
    let problems: LocatedProblem[];
    let warnings: LocatedProblem[] = [];
    let policy: { name: string; version: string } | undefined;
    if (locator.syntax.length > 0 && !json) {
      problems = locator.syntax.map((s) => ({
        path: '',
        message: s.message,
        line: s.line,
        column: s.column,
      }));
    } else {
      const result = loadPolicy(input.text, { format: json ? 'json' : 'yaml' });
      if (result.ok) {
        problems = [];
        warnings = located(locator, result.policy.warnings);
        policy = { name: result.policy.name, version: result.policy.version };
      } else problems = located(locator, result.problems);
    }
    const ok = problems.length === 0;
    if (global.json) {
      writeJson(io.stdout, {
        file: input.name,
        ok,
        ...(policy === undefined ? {} : { policy }),
        problems,
        warnings,
      });
    } else {
      printProblems(io, input.name, 'error', problems);
      printProblems(io, input.name, 'warning', warnings);
      writeLine(
        ok ? io.stdout : io.stderr,
        ok
          ? `${input.name}: ok (policy ${policy?.name ?? ''} ${policy?.version ?? ''}${warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''})`
          : `${input.name}: ${problems.length} problem(s)`,
      );
    }
    return ok ? ExitCode.ok : ExitCode.failed;
  },
};

interface DecisionSummary {
  readonly rule: string | null;
  readonly strategy: string;
  readonly outcome: string;
}

interface DryRunReport {
  readonly policy: { readonly name: string; readonly version: string };
  readonly conflicts: number;
  readonly changed: number;
  readonly byRule: Readonly<Record<string, number>>;
  readonly changes: readonly {
    readonly conflictId: string;
    readonly before: DecisionSummary;
    readonly after: DecisionSummary;
  }[];
  readonly truncated: boolean;
}

const decisionText = (d: DecisionSummary): string => `${d.rule ?? '-'}/${d.strategy} → ${d.outcome}`;

export const policyDryRun: Command = {
  path: ['policy', 'dry-run'],
  args: '<file>',
  summary: 'what a candidate policy would have decided on the recorded conflicts (POST /v1/policy/dry-run)',
  details: [
    'Nothing is written. Prints the counts, the conflicts per rule and each changed decision (before → after).',
    'An invalid candidate prints its problems as `policy validate` does, and exits 1.',
  ],
  options: {
    since: {
      type: 'string',
      value: 'time',
      description: 'only conflicts since an ISO-8601 instant or epoch ms',
    },
    limit: {
      type: 'string',
      value: 'n',
      description: 'at most n conflicts, oldest first (server default 100,000)',
    },
    changes: {
      type: 'string',
      value: 'n',
      description: 'list at most n changed decisions, 0..1000 (default 100)',
    },
  },
  positionals: { min: 1, max: 1 },
  async run({ io, global, values, positionals, client }) {
    const input = await readInput(io, positionals[0]);
    const limit = stringOption(values, 'limit');
    const changes = stringOption(values, 'changes');
    if (limit !== undefined) intOption(limit, 'limit', { min: 1, max: 1_000_000, fallback: 0 });
    if (changes !== undefined) intOption(changes, 'changes', { min: 0, max: 1000, fallback: 0 });
    const response = await client().send({
      method: 'POST',
      path: '/v1/policy/dry-run',
      query: { since: stringOption(values, 'since'), limit, changes },
      body: input.text,
      contentType: isJsonFile(input.name) ? 'application/json' : 'application/yaml',
    });
    const body = await readJson(response);
    if (!response.ok) {
      const failure = httpFailure(response, body);
      const problems = (failure.details as { problems?: PolicyProblem[] } | undefined)?.problems;
      if (failure.code !== coreErrors.POLICY_INVALID.code || !Array.isArray(problems)) throw failure;
      const where = located(policyLocator(input.text), problems);
      if (global.json) writeJson(io.stdout, { file: input.name, ok: false, problems: where });
      else {
        printProblems(io, input.name, 'error', where);
        writeLine(io.stderr, `${input.name}: ${where.length} problem(s)`);
      }
      return ExitCode.failed;
    }
    const report = body as DryRunReport;
    if (global.json) {
      writeJson(io.stdout, report);
      return ExitCode.ok;
    }
    writeLine(
      io.stdout,
      `policy ${report.policy.name} ${report.policy.version}: ${report.conflicts} conflict(s), ${report.changed} would be decided differently`,
    );
    for (const [rule, count] of Object.entries(report.byRule))
      writeLine(io.stdout, `  rule ${rule}: ${count}`);
    for (const change of report.changes) {
      writeLine(
        io.stdout,
        `  ${change.conflictId}: ${decisionText(change.before)}  ⇒  ${decisionText(change.after)}`,
      );
    }
    if (report.truncated) writeLine(io.stdout, '  (more changes than listed; raise --changes)');
    return ExitCode.ok;
  },
};
