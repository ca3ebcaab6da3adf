/**
 * Readable log lines for a terminal: pino's JSON lines turned into
 * `12:04:05.123 INFO  ingest  message key=value …`, coloured by level. Only for people reading a
 * terminal; anything that collects logs gets the JSON lines (LOG_FORMAT, createLogger).
 */

const LEVELS: Readonly<Record<number, readonly [string, string]>> = {
  10: ['TRACE', '\u001b[90m'],
  20: ['DEBUG', '\u001b[36m'],
  30: ['INFO ', '\u001b[32m'],
  40: ['WARN ', '\u001b[33m'],
  50: ['ERROR', '\u001b[31m'],
  60: ['FATAL', '\u001b[35m'],
};
const RESET = '\u001b[0m';
const DIM = '\u001b[2m';
/** Fields every line carries, shown in the line's head rather than as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

const valueText = (value: unknown): string => {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
};

const errorText = (err: unknown): string => {
  if (typeof err !== 'object' || err === null) return valueText(err);
  const { stack, message } = err as { stack?: unknown; message?: unknown };
  return typeof stack === 'string' ? `\n${stack}` : valueText(message ?? err);
};

/** One pino JSON line as a readable line; a line that is not JSON passes through unchanged. */
export const prettyLine = (line: string, colours: boolean): string => {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const [name, colour] = LEVELS[Number(record['level'])] ?? ['?    ', ''];
  const paint = (code: string, text: string) => (colours && code !== '' ? `${code}${text}${RESET}` : text);
  const time = typeof record['time'] === 'string' ? record['time'].slice(11, 23) : '';
  const rest = Object.entries(record)
    .filter(([key]) => !HEAD.has(key) && key !== 'err')
    .map(([key, value]) => `${paint(DIM, `${key}=`)}${valueText(value)}`);
  const err = record['err'] === undefined ? '' : ` ${paint(colour, errorText(record['err']))}`;
  const service = typeof record['service'] === 'string' ? `${record['service']} ` : '';
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  return `${paint(DIM, time)} ${paint(colour, name)} ${paint(DIM, service)}${msg}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}${err}\n`;
};

/** A destination for pino that writes `prettyLine`s to `out`. */
export const prettyDestination = (
  out: NodeJS.WritableStream,
  colours: boolean,
): { write(chunk: string): boolean } => ({
  write: (chunk: string) => out.write(prettyLine(chunk, colours)),
});
