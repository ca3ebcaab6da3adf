import { mkdirSync, writeFileSync } from 'node:fs';
import { applyPatch, classify } from '@concord/core/conflict';
import { validateEvent, type EventEnvelope } from '@concord/core/envelope';
import { measure, measureAsync, type MeasureOptions } from './measure.js';
import { MATCH_AT, RULES, benchConflict, concordPolicy, peerEngine, peerFacts } from './policy-decide.js';
import { decisionPercentiles, dryRunPages, recordedPages } from './policy-dry-run.js';

const timing: MeasureOptions = { warmupMs: 1000, durationMs: 3000 };
const results: Record<string, unknown>[] = [];
const report = (line: Record<string, unknown>): void => {
  results.push(line);
  console.log(JSON.stringify(line));
};

// policy-decide: Concord vs json-rules-engine, same rules, same conflict, same run.
const policy = concordPolicy();
const conflict = benchConflict();
const decision = policy.decide(conflict);
if (decision.rule !== `rule-${MATCH_AT}`) throw new Error(`bench policy matched ${decision.rule}`);
const engine = peerEngine();
const facts = peerFacts(conflict);
const peerCheck = await engine.run(facts);
if (peerCheck.events[0]?.params?.['rule'] !== `rule-${MATCH_AT}`)
  throw new Error('peer matched the wrong rule');
const ours = measure(() => policy.decide(conflict), timing);
const peer = await measureAsync(() => engine.run(facts), timing);
report({
  bench: 'policy-decide',
  rules: RULES,
  matchAt: MATCH_AT,
  decisionsPerSec: ours.perSec,
  peer: 'json-rules-engine',
  peerDecisionsPerSec: peer.perSec,
  speedup: Math.round((ours.perSec / peer.perSec) * 10) / 10,
});

// Per-decision latency of the 20-rule policy, and decisions per second as the policy grows (the
// conflict matches the middle rule, so half the rules are tried first).
report({ bench: 'policy-decide-latency', rules: RULES, ...decisionPercentiles(policy, 200_000) });
for (const rules of [5, 20, 100, 500]) {
  const sized = concordPolicy(rules);
  const middle = benchConflict(Math.ceil(rules / 2));
  report({
    bench: 'policy-decide-size',
    rules,
    decisionsPerSec: measure(() => sized.decide(middle), timing).perSec,
  });
}

// policy-dry-run: 100,000 recorded conflicts re-decided by a candidate, read in pages of JSON.
const pages = recordedPages(policy, 100_000);
const dry = dryRunPages(pages);
if (dry.report.conflicts !== 100_000) throw new Error(`dry run saw ${dry.report.conflicts} conflicts`);
report({
  bench: 'policy-dry-run',
  conflicts: dry.report.conflicts,
  seconds: Math.round(dry.seconds * 1000) / 1000,
  changed: dry.report.changed,
});

// classify: a stale write overlapping a later change (the conflict path).
let state = applyPatch(undefined, event({ id: 'e1', data: { title: 'a', done: false, notes: 'n' } }));
state = applyPatch(state, event({ id: 'e2', baseVersion: 1, data: { title: 'b' } }));
const stale = event({ id: 'e3', baseVersion: 1, data: { title: 'c', done: true } });
if (classify(state, stale).outcome !== 'conflict') throw new Error('expected a conflict');
report({
  bench: 'classify',
  case: 'stale-base-conflict',
  perSec: measure(() => classify(state, stale), timing).perSec,
});
const fresh = event({ id: 'e4', baseVersion: 2, data: { title: 'd' } });
report({ bench: 'classify', case: 'applied', perSec: measure(() => classify(state, fresh), timing).perSec });

// envelope validation of a typical event (includes the UTF-8 JSON size check).
const wire = JSON.parse(
  JSON.stringify({
    ...event({
      id: '0193a7c2-5d1e-7b3a-9f00-1c2d3e4f5a6b',
      baseVersion: 3,
      data: { title: 'Buy milk', tags: ['home'] },
    }),
    clock: { 'phone-a': 5 },
    hlc: '001700000000000-000000-phone-a',
    origin: 'phone-a',
    metadata: { tenant: 'acme', userId: 'u1', source: 'mobile' },
  }),
) as unknown;
if (!validateEvent(wire).ok) throw new Error('bench event invalid');
report({ bench: 'validate-event', perSec: measure(() => validateEvent(wire), timing).perSec });

const out = new URL('../../../bench-results/', import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL('core.json', out), `${JSON.stringify(results, null, 2)}\n`);

function event(over: Partial<EventEnvelope>): EventEnvelope {
  return { id: 'e', type: 'TaskUpdated', aggregateType: 'task', aggregateId: 't1', data: {}, ...over };
}
