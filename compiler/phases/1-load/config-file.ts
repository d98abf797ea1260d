// Reading one config file (a tool, a policy, context.yaml, a policy test) only when it is a regular file
// inside the config: the root, or the folder it was found in (a --tools or --policies folder may lie
// elsewhere). A symbolic link may point within those; one that leads out is refused unread, since what
// it reads would be echoed in code frames into a CI log (`tools/x.yaml -> /proc/self/environ`). A
// directory, a FIFO (read for ever), a socket, a device, a dangling link or an unreadable file is a
// problem naming it, never a stack trace or a hang.

import { lstatSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs";
import { resolve, sep } from "node:path";
import { systemErrorText } from "../../../runtime-template/process/system-error-text.js";

export function readFileInside(path: string, display: string, within: readonly string[]): { text: string } | { problem: string } {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    const link = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(path) : undefined;
    return { problem: link !== undefined && (error as NodeJS.ErrnoException).code === "ENOENT" ? `${display} is a symbolic link to ${link}, which does not exist` : `${display} cannot be read: it ${systemErrorText(error)}` };
  }
  const inside = within.map(realOrResolved).some((dir) => real === dir || real.startsWith(dir.endsWith(sep) ? dir : dir + sep));
  if (!inside) {
    // The link as written (what a reviewer sees in the diff), where the file itself is the link.
    const shown = lstatSync(path).isSymbolicLink() ? readlinkSync(path) : real;
    return { problem: `${display} is a symbolic link to ${shown}, outside the config: KeyRunner reads only files inside it` };
  }
  const kind = fileKind(statSync(real));
  if (kind !== undefined) return { problem: `${display} is ${kind}, not a file` };
  try {
    return { text: readFileSync(real, "utf8") };
  } catch (error) {
    return { problem: `${display} cannot be read: it ${systemErrorText(error)}` };
  }
}

/** What a path that is not a regular file is, in words; undefined for a regular file. */
function fileKind(stat: Stats): string | undefined {
  if (stat.isFile()) return undefined;
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a named pipe";
  if (stat.isSocket()) return "a socket";
  return "a device";
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}
