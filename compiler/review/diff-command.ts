// `keyrunner diff OLD_DIR NEW_DIR` and `keyrunner diff REV [DIR]`: exit 0, 1 with `--fail-on widen` when
// anything widened, 2 for usage errors or a config that does not check.

import { existsSync, statSync } from "node:fs";
import { renderHuman, renderSummary } from "../index.js";
import { configAtRevision, isRevision, RevisionError } from "./git-config.js";
import { diffConfigs, widened } from "./diff-configs.js";
import { DIFF_FORMATS, renderDiff, type DiffFormat } from "./render-diff.js";

export interface DiffIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

export async function diffCommand(first: string, second: string | undefined, options: { format: string; failOn?: string }, io: DiffIo): Promise<number> {
  if (!(DIFF_FORMATS as readonly string[]).includes(options.format)) {
    io.stderr(`error: --format must be text, json or markdown, not ${options.format}\n`);
    return 2;
  }
  if (options.failOn !== undefined && options.failOn !== "widen") {
    io.stderr(`error: --fail-on takes \`widen\`, not ${options.failOn}\n`);
    return 2;
  }
  let oldDir: string;
  let newDir: string;
  let remove = () => {};
  if (second !== undefined && isDir(first) && isDir(second)) {
    [oldDir, newDir] = [first, second];
  } else if (isDir(second ?? ".") && isRevision(first, second ?? ".")) {
    newDir = second ?? ".";
    try {
      const at = configAtRevision(first, newDir);
      oldDir = at.dir;
      remove = at.remove;
    } catch (error) {
      if (!(error instanceof RevisionError)) throw error;
      io.stderr(`error: ${error.message}\n`);
      return 2;
    }
  } else {
    const missing = second === undefined ? first : [first, second].find((d) => !isDir(d)) ?? first;
    io.stderr(`error: ${missing} is neither a config folder nor a git revision\nusage: keyrunner diff OLD_DIR NEW_DIR | keyrunner diff REV [DIR]\n`);
    return 2;
  }
  try {
    const result = await diffConfigs({ dir: oldDir }, { dir: newDir });
    if (!result.ok) {
      const label = result.side === "old" ? (oldDir === first ? first : `${first} (the revision)`) : newDir;
      io.stderr(`error: the ${result.side} config (${label}) does not check:\n${renderHuman(result.check.diagnostics, result.check.sources)}\n${renderSummary(result.check.diagnostics)}\n`);
      return 2;
    }
    io.stdout(renderDiff(result.diff, options.format as DiffFormat));
    return options.failOn === "widen" && widened(result.diff) ? 1 : 0;
  } finally {
    remove();
  }
}
