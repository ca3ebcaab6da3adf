import { parseArgs } from 'node:util';

export type BenchBroker = 'memory' | 'rabbitmq' | 'kafka';

export interface BenchArgs {
  readonly broker: BenchBroker;
  readonly messages: number;
  readonly size: number;
  readonly batch: number;
  readonly rounds: number;
}

/** `--broker rabbitmq|kafka|memory [--messages n] [--size bytes] [--batch n] [--rounds n]`; a `--` is ignored. */
export const parseBenchArgs = (argv: readonly string[]): BenchArgs => {
  const { values } = parseArgs({
    args: argv.filter((arg) => arg !== '--'),
    options: {
      broker: { type: 'string', default: 'memory' },
      messages: { type: 'string', default: '20000' },
      size: { type: 'string', default: '1024' },
      batch: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const broker = values.broker;
  if (broker !== 'memory' && broker !== 'rabbitmq' && broker !== 'kafka') {
    throw new Error(`--broker must be rabbitmq, kafka or memory (got ${broker})`);
  }
  const number = (name: string, value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
    return parsed;
  };
  return {
    broker,
    messages: number('messages', values.messages),
    size: number('size', values.size),
    batch: number('batch', values.batch),
    rounds: number('rounds', values.rounds),
  };
};
