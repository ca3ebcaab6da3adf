/**
 * Who else is using the shared brokers of this machine right now. Sweeping leftovers while another run
 * is in the middle of a test would delete a queue it declared a moment ago, so the sweep waits for the
 * last run to finish. Two signals, both local: test runs of this code register their process here, and
 * runs started as the READMEs say (`flock -s|-x /tmp/concord-services.lock …`) hold that lock.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REGISTRY = join(tmpdir(), 'concord-broker-users');
const SERVICES_LOCK = '/tmp/concord-services.lock';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
};

const parentOf = (pid: number): number | undefined => {
  try {
    // /proc/<pid>/stat: `pid (comm) state ppid …`; comm may contain spaces, so split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
};

/** This process and its ancestors: the `flock` that started this run holds the lock on its behalf. */
const lineage = (): Set<number> => {
  const pids = new Set<number>();
  for (let pid: number | undefined = process.pid; pid !== undefined && !pids.has(pid); pid = parentOf(pid)) {
    pids.add(pid);
  }
  return pids;
};

/** Processes outside this run holding (not waiting for) the services lock; empty where /proc/locks is not. */
const lockHolders = (own: Set<number>): number[] => {
  let inode: number;
  let locks: string;
  try {
    inode = statSync(SERVICES_LOCK).ino;
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  // `1: FLOCK  ADVISORY  READ  4242 00:2d:1234 0 EOF`; waiters read `1: -> FLOCK …`.
  return locks
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === 'FLOCK' && Number(fields[5]?.split(':')[2]) === inode)
    .map((fields) => Number(fields[4]))
    .filter((pid) => !own.has(pid) && alive(pid));
};

/** Registers this process as a user of the brokers until `unregister()`. */
export const register = (): { unregister: () => void } => {
  const file = join(REGISTRY, String(process.pid));
  try {
    mkdirSync(REGISTRY, { recursive: true });
    writeFileSync(file, '');
  } catch {
    // Registration only delays other runs' sweeps; failing to register must not fail the run.
  }
  return { unregister: () => rmSync(file, { force: true }) };
};

/** Other processes using the brokers now (registered, or holding the services lock); forgets dead ones. */
export const otherUsers = (): number[] => {
  const own = lineage();
  let registered: number[] = [];
  try {
    registered = readdirSync(REGISTRY)
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && !own.has(pid));
  } catch {
    // No registry yet: nobody registered.
  }
  for (const pid of registered.filter((pid) => !alive(pid)))
    rmSync(join(REGISTRY, String(pid)), { force: true });
  return [...new Set([...registered.filter(alive), ...lockHolders(own)])];
};
