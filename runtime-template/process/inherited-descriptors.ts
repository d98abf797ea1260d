// Descriptors that whoever started KeyRunner left open without close-on-exec would reach every exec tool:
// Node's spawn passes them on to each child, and the exec supervisor (`/bin/sh`, which is dash on Debian)
// cannot name a descriptor above 9 to close it. A shell's pipe at fd 251 once reached an `ls` tool that
// way, through the launcher and the server.
//
// So the first KeyRunner process closes them before it starts anything: every descriptor above 2 that
// lacks close-on-exec, read from /proc/self/fdinfo — Node and libuv open all of their own with it, and
// Node marks the low inherited ones itself. Kept: the descriptors that the command line names as a file
// (`--secrets-file <(…)` is /dev/fd/63), which the server reads at start-up, and Node's IPC channel. A
// named descriptor then stays open in the server, so each exec tool gets it covered (coverForExec).

import { closeSync, readdirSync, readFileSync } from "node:fs";

const O_CLOEXEC = 0o2000000;

/** The descriptors above 2 that an argument names as a file: /dev/fd/N, /proc/self/fd/N, /proc/<pid>/fd/N. */
export function namedDescriptors(argv: readonly string[]): number[] {
  const named = new Set<number>();
  for (const arg of argv) {
    const match = /(?:^|=)\/(?:dev\/fd|proc\/(?:self|\d+)\/fd)\/(\d{1,7})$/.exec(arg);
    if (match !== null && Number(match[1]) > 2) named.add(Number(match[1]));
  }
  return [...named].sort((a, b) => a - b);
}

/** Whether this descriptor survives an exec: its flags (octal in fdinfo) lack O_CLOEXEC. */
const inheritable = (fd: string): boolean => {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"));
    return flags !== null && (Number.parseInt(flags[1]!, 8) & O_CLOEXEC) === 0;
  } catch {
    return false; // gone already (the directory listing's own descriptor)
  }
};

/**
 * Closes every descriptor above 2 that this process inherited without close-on-exec, except those the
 * command line names and Node's IPC channel; returns the closed ones. Where /proc cannot be read (not
 * Linux, or under the permission model) nothing is closed: the launcher has done it, or the starter must.
 */
export function closeInheritedDescriptors(argv: readonly string[]): number[] {
  const keep = new Set<number>(namedDescriptors(argv));
  const channel = process.env.NODE_CHANNEL_FD;
  if (channel !== undefined && /^\d+$/.test(channel)) keep.add(Number(channel));
  let listed: string[];
  try {
    listed = readdirSync("/proc/self/fdinfo");
  } catch {
    return [];
  }
  const closed: number[] = [];
  for (const name of listed) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2 || keep.has(fd) || !inheritable(name)) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // closed meanwhile
    }
  }
  return closed.sort((a, b) => a - b);
}

/**
 * The stdio entries past fd 3 that cover, in an exec tool, each descriptor that this process's command
 * line names above 4 (fds 3 and 4 the supervisor replaces itself): a socket at that number, whose other
 * end the runner closes at once, instead of the operator's file. Empty when nothing is named.
 */
export function coverForExec(argv: readonly string[]): Array<"ignore" | "pipe"> {
  const named = namedDescriptors(argv).filter((fd) => fd > 4);
  if (named.length === 0) return [];
  const entries: Array<"ignore" | "pipe"> = [];
  for (let fd = 4; fd <= named[named.length - 1]!; fd++) entries.push(named.includes(fd) ? "pipe" : "ignore");
  return entries;
}
