// `keyrunner replay --audit FILE [DIR] [--format json]`: exit 0, or 2 when the audit cannot be read or
// the config does not check.

import { readFileSync } from "node:fs";
import { renderHuman, renderSummary } from "../index.js";
import type { DiffIo } from "./diff-command.js";
import { renderReplayText, replayAudit } from "./replay-audit.js";

export async function replayCommand(dir: string, options: { audit: string; format: string }, io: DiffIo): Promise<number> {
  if (options.format !== "text" && options.format !== "json") {
    io.stderr(`error: --format must be text or json, not ${options.format}\n`);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(options.audit, "utf8");
  } catch {
    io.stderr(`error: cannot read the audit log ${options.audit}\n`);
    return 2;
  }
  const { loadCompiled } = await import("../runtime-commands.js");
  const loaded = await loadCompiled({ dir });
  if (loaded.bundle === undefined) {
    io.stderr(`error: the config ${dir} does not check:\n${renderHuman(loaded.check.diagnostics, loaded.check.sources)}\n${renderSummary(loaded.check.diagnostics)}\n`);
    return 2;
  }
  const report = replayAudit(text, loaded.bundle.config);
  io.stdout(options.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderReplayText(report));
  return 0;
}
