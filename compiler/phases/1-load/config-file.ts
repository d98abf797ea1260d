// Reading one config file (a tool, a policy, context.yaml, a policy test) only when it is a regular file
// inside the config: the root, or a folder named on the command line (`--tools`, `--policies` may lie
// elsewhere). A symbolic link may point within those; one that leads out is refused unread, since what
// it reads would be echoed in code frames into a CI log (`tools/x.yaml -> /proc/self/environ`). The
// default folders are no exception: a `tools/` that is itself a link out of the config is refused whole
// (`folderOutside`), as a pull request that adds such a link could otherwise have the CI build read
// anything the runner can. A directory, a FIFO (read for ever), a socket, a device, a dangling link or an
// unreadable file is a problem naming it, never a stack trace or a hang.

import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { systemErrorText } from "../../../runtime-template/process/system-error-text.js";

/** Reads `path` if it is a regular file inside one of `within`: real paths, as `realFolder` gives them. */
export function readFileInside(path: string, display: string, within: readonly string[]): { text: string } | { problem: string } {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    const link = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(path) : undefined;
    return { problem: link !== undefined && (error as NodeJS.ErrnoException).code === "ENOENT" ? `${display} is a symbolic link to ${link}, which does not exist` : `${display} cannot be read: it ${systemErrorText(error)}` };
  }
  if (!within.some((dir) => isInside(real, dir))) {
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

/**
 * A default folder (`tools/`, `policies/`, `tests/`, `dist/`) that leads out of the config `realRoot`, as
 * the fact in words (`tools/ is a symbolic link to /x, outside the config`), for the caller to add its rule
 * to; undefined when it is inside or missing. A dangling link counts where its target would be.
 */
export function folderOutside(folder: string, display: string, realRoot: string): string | undefined {
  const link = lstatSync(folder, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(folder) : undefined;
  if (link === undefined && !existsSync(folder)) return undefined;
  const real = existsSync(folder) ? realFolder(folder) : resolve(dirname(folder), link!);
  if (isInside(real, realRoot)) return undefined;
  return `${display}/ is a symbolic link to ${link ?? real}, outside the config`;
}

/** The real path of a folder, or its resolved path where it does not exist. Resolve each folder once. */
export function realFolder(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function isInside(real: string, dir: string): boolean {
  return real === dir || real.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}
