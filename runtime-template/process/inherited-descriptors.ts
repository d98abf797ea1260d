// Descriptors that whoever started KeyRunner left open without close-on-exec would reach every exec tool:
// Node's spawn passes them on to each child, and the exec supervisor (`/bin/sh`, which is dash on Debian)
// cannot name a descriptor above 9 to close it. A shell's pipe at fd 251 once reached an `ls` tool that
// way, through the launcher and the server.
//
// So each KeyRunner process closes them before it starts anything: every descriptor above 2 that lacks
// close-on-exec, read from /proc/self/fdinfo. Node and libuv open their own with close-on-exec, and at
// start Node marks the run of open descriptors from 0 up to the first gap close-on-exec itself (those
// stay open in the process but never pass an exec). Kept: the descriptors that the command line names as
// a file (`--secrets-file <(…)` is /dev/fd/63), which the server reads at start-up, and Node's IPC
// channel. A named descriptor is handed on to the sandboxed server and its workers at its own number
// (handOnNamed), and each exec tool gets /dev/null in its place (coverForExec).
//
// One kind of descriptor above 2 without close-on-exec is this process's own: the files V8's logger opens
// at start for `--prof`, `--perf-basic-prof`, `--perf-prof` or `--logfile` (a perf map, a tick log).
// Closed, the logger went on writing to the number, which the next open took: the secrets hand-over pipe
// (the sandboxed server then failed to start) or, as well, the audit file. Where such a flag is given,
// a regular file opened read-write (not appending) and changed since this process started is V8's and
// stays (isOwnV8Log), covered with /dev/null in each exec tool like a named descriptor. A file the starter
// left open like that and wrote to during the start would stay open here too (never in an exec tool):
// only a profiling run risks that.

import { closeSync, fstatSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";

const O_CLOEXEC = 0o2000000;
const O_ACCMODE = 0o3;
const O_RDWR = 0o2;
const O_APPEND = 0o2000;

/** Above this a named descriptor is refused: every exec would carry a stdio table this long. */
export const MAX_NAMED_DESCRIPTOR = 1023;

/** The descriptors above 2 that an argument names as a file: /dev/fd/N, /proc/self/fd/N, /proc/<pid>/fd/N. */
export function namedDescriptors(argv: readonly string[]): number[] {
  const named = new Set<number>();
  for (const arg of argv) {
    const match = /(?:^|=)\/(?:dev\/fd|proc\/(?:self|\d+)\/fd)\/(\d{1,7})$/.exec(arg);
    if (match !== null && Number(match[1]) > 2) named.add(Number(match[1]));
  }
  return [...named].sort((a, b) => a - b);
}

/** A descriptor's open flags, from the `flags:` line (octal) of its fdinfo; undefined when it is gone. */
const fdinfo = Buffer.alloc(64);
function descriptorFlags(fd: number | string): number | undefined {
  let length: number;
  try {
    const info = openSync(`/proc/self/fdinfo/${fd}`, "r");
    try {
      length = readSync(info, fdinfo, 0, fdinfo.length, 0);
    } finally {
      closeSync(info);
    }
  } catch {
    return undefined; // gone already (the directory listing's own descriptor)
  }
  const flags = /\nflags:\s*([0-7]+)/.exec(fdinfo.toString("latin1", 0, length));
  return flags === null ? undefined : Number.parseInt(flags[1]!, 8);
}

/** V8 flags (on the command line or in NODE_OPTIONS) that make its logger open files at start. */
const V8_LOG_FLAG = /^--(?:prof|perf[-_]basic[-_]prof(?:[-_]only[-_]functions)?|perf[-_]prof|logfile|log|log[-_][a-z_-]+)(?:=|$)/;

export function v8LogsToFiles(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ""): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => V8_LOG_FLAG.test(flag));
}

/**
 * The descriptors above 2 open now without close-on-exec, with their open flags; undefined where /proc
 * cannot be read (not Linux, or a permission model without the /proc/self/fdinfo grant).
 */
function inheritableDescriptors(): Array<{ fd: number; flags: number }> | undefined {
  let listed: string[];
  try {
    listed = readdirSync("/proc/self/fdinfo");
  } catch {
    return undefined;
  }
  const found: Array<{ fd: number; flags: number }> = [];
  for (const name of listed) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    const flags = descriptorFlags(fd);
    if (flags !== undefined && (flags & O_CLOEXEC) === 0) found.push({ fd, flags });
  }
  return found;
}

/**
 * The descriptors of V8's log files open now, where a V8 logging flag is given (else none): each exec
 * tool gets /dev/null there. Read at each exec, since a worker thread's isolate opens its own log later.
 */
function ownV8Logs(): number[] {
  if (!v8LogsToFiles()) return [];
  return (inheritableDescriptors() ?? []).filter(({ fd, flags }) => isOwnV8Log(fd, flags)).map(({ fd }) => fd);
}

/** A file V8's logger opened at start (see the head of this file): read-write, not appending, changed since. */
function isOwnV8Log(fd: number, flags: number): boolean {
  if ((flags & O_ACCMODE) !== O_RDWR || (flags & O_APPEND) !== 0) return false;
  try {
    const stat = fstatSync(fd);
    return stat.isFile() && stat.ctimeMs >= performance.timeOrigin;
  } catch {
    return false;
  }
}

/**
 * The stdio table of a child from descriptor `from` on: `entry` at each of `numbers`, "ignore" in the gaps
 * (libuv leaves a descriptor above 2 alone there); empty when `numbers` is.
 */
function stdioAt<Entry>(from: number, numbers: readonly number[], entry: (fd: number) => Entry): Array<"ignore" | Entry> {
  const entries: Array<"ignore" | Entry> = [];
  for (let fd = from; fd <= Math.max(from - 1, ...numbers); fd++) entries.push(numbers.includes(fd) ? entry(fd) : "ignore");
  return entries;
}

/**
 * Closes every descriptor above 2 that this process inherited without close-on-exec, except those the
 * command line names, Node's IPC channel and `alsoKeep`; returns the closed ones, or undefined where
 * /proc cannot be read (not Linux, or a permission model without the /proc/self/fdinfo grant).
 */
export function closeInheritedDescriptors(argv: readonly string[], alsoKeep: readonly number[] = []): number[] | undefined {
  const keep = new Set<number>([...namedDescriptors(argv), ...alsoKeep]);
  const channel = channelDescriptor();
  if (channel !== undefined) keep.add(channel);
  const open = inheritableDescriptors();
  if (open === undefined) return undefined;
  const closed: number[] = [];
  const v8Logs = v8LogsToFiles();
  for (const { fd, flags } of open) {
    if (keep.has(fd) || (v8Logs && isOwnV8Log(fd, flags))) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // closed meanwhile
    }
  }
  return closed.sort((a, b) => a - b);
}

/** Node's IPC channel's descriptor, when a parent gave this process one (Node has taken NODE_CHANNEL_FD out of the environment). */
export const channelDescriptor = (): number | undefined => {
  const fd = (process as { channel?: { fd?: unknown } }).channel?.fd;
  return typeof fd === "number" ? fd : undefined;
};

/**
 * The stdio entries past fd 3 that cover, in an exec tool, each descriptor kept open here on purpose —
 * those this process's command line names, Node's IPC channel and V8's log files — above 4 (fds 3 and 4 the supervisor
 * replaces itself): `cover` at that number, this process's /dev/null (read-only: reads end at once,
 * writes fail). Empty when there is none.
 */
export function coverForExec<Cover>(argv: readonly string[], cover: Cover, channel = channelDescriptor()): Array<"ignore" | Cover> {
  const kept = [...namedDescriptors(argv), ...(channel === undefined ? [] : [channel]), ...ownV8Logs()].filter((fd) => fd > 4);
  return stdioAt(4, kept, () => cover);
}

/**
 * Why the command line's named descriptors cannot be used, or undefined. `ownLow`: this process starts
 * children that use 3 and 4 themselves (the sandboxed server: the hand-over and the lifeline; pool
 * workers: the cluster's channel and the lifeline). `workers`: how many processes each read the files.
 */
export function namedDescriptorProblem(argv: readonly string[], ownLow: boolean, workers = 1): string | undefined {
  const named = namedDescriptors(argv);
  const taken = named.find((fd) => ownLow && (fd === 3 || fd === 4));
  if (taken !== undefined) return `descriptor ${taken} is KeyRunner's own in the server it starts (3 and 4 carry the secrets hand-over, the worker channel and the lifeline): pass the file at 5 or above (5<FILE and /dev/fd/5)`;
  const high = named.find((fd) => fd > MAX_NAMED_DESCRIPTOR);
  if (high !== undefined) return `descriptor ${high} is above ${MAX_NAMED_DESCRIPTOR}: pass the file at a lower descriptor (63<FILE and /dev/fd/63)`;
  for (const fd of named) {
    let stat;
    try {
      stat = fstatSync(fd);
    } catch {
      return `descriptor ${fd} is not open: the command line names /dev/fd/${fd}, but nothing was passed there (${fd}<FILE)`;
    }
    if (nodeOwn(fd)) return `descriptor ${fd} is not a file passed to KeyRunner but one of Node's own: pass the file at another number (63<FILE and /dev/fd/63)`;
    if (workers > 1 && (stat.isFIFO() || stat.isSocket())) return pipeForWorkers(fd, workers);
  }
  // stdin too: `… | keyrunner serve --secrets-file /dev/stdin --workers 2`.
  if (workers > 1 && argv.some((arg) => /(?:^|=)\/dev\/(?:stdin|fd\/0)$/.test(arg))) {
    try {
      const stat = fstatSync(0);
      if (stat.isFIFO() || stat.isSocket()) return pipeForWorkers(0, workers);
    } catch {
      // stdin closed: reading it fails with its own error
    }
  }
  return undefined;
}

const pipeForWorkers = (fd: number, workers: number): string =>
  `descriptor ${fd} is a pipe, which only one of the ${workers} workers could read: pass a file (${fd === 0 ? "63" : fd}<FILE), or the secrets in the environment`;

/**
 * Whether this descriptor is Node's: an anonymous inode (epoll, eventfd) or a pipe whose other end this
 * process holds too (libuv's signal pipes: one end read-only, the other write-only; a shell may leave two
 * read ends of one pipe, `5< <(…)` beside its 63, which is the operator's). Unknown (false) where /proc
 * cannot be read.
 */
function nodeOwn(fd: number): boolean {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    if (target.startsWith("anon_inode:")) return true;
    if (!target.startsWith("pipe:")) return false;
    const mode = accessMode(fd);
    return readdirSync("/proc/self/fd").some((other) => Number(other) !== fd && readlinkOr(`/proc/self/fd/${other}`) === target && accessMode(Number(other)) !== mode);
  } catch {
    return false;
  }
}

/** O_RDONLY, O_WRONLY or O_RDWR. */
const accessMode = (fd: number): number | undefined => {
  const flags = descriptorFlags(fd);
  return flags === undefined ? undefined : flags & 3;
};

const readlinkOr = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/**
 * The stdio entries from fd 5 on that hand each named descriptor to a child at its own number. Inheritance
 * alone would not do: Node marks a low run of descriptors close-on-exec at start, so without this the
 * child's /dev/fd/5 would be one of its own.
 */
export function handOnNamed(argv: readonly string[]): Array<"ignore" | number> {
  return stdioAt(5, namedDescriptors(argv), (fd) => fd);
}
