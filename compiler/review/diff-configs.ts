// `keyrunner diff` as a library: check and compile both configs, compute decision changes with the
// analyser, replay every witness through both configs' generated code, and add the structural changes.

import type { CheckResult } from "../index.js";
import type { ConfigLocation } from "../phases/1-load/load-config.js";
import { diffDecisions, type DecisionChange, type UndecidedChange } from "./diff-decisions.js";
import { diffStructure, type StructureChange } from "./diff-structure.js";
import { witnessMismatch } from "./verify-witness.js";

export type Change = DecisionChange | UndecidedChange | StructureChange;

export interface ConfigDiff {
  readonly changes: Change[];
}

export type DiffResult =
  | { readonly ok: true; readonly diff: ConfigDiff }
  | { readonly ok: false; readonly side: "old" | "new"; readonly check: CheckResult };

const ORDER = ["widened", "narrowed", "obligation", "undecided", "tool_added", "tool_removed", "egress", "input_schema", "secret_added", "secret_removed", "agent_added", "agent_removed"];

export async function diffConfigs(oldLocation: ConfigLocation, newLocation: ConfigLocation): Promise<DiffResult> {
  const { loadCompiled } = await import("../runtime-commands.js");
  const oldLoaded = await loadCompiled(oldLocation);
  if (oldLoaded.bundle === undefined || oldLoaded.check.analysis === undefined) return { ok: false, side: "old", check: oldLoaded.check };
  const newLoaded = await loadCompiled(newLocation);
  if (newLoaded.bundle === undefined || newLoaded.check.analysis === undefined) return { ok: false, side: "new", check: newLoaded.check };

  const decisions = diffDecisions(oldLoaded.check.analysis, newLoaded.check.analysis).map((change): DecisionChange | UndecidedChange => {
    if (change.kind === "undecided") return change;
    const mismatch = witnessMismatch(oldLoaded.bundle!.config, newLoaded.bundle!.config, change.witness, change.old, change.new);
    if (mismatch === undefined) return change;
    // Never printed as a change: the analyser and the generated code disagree, and that is a bug to report.
    return { kind: "undecided", tool: change.tool, agents: change.agents, old: change.old, new: change.new, why: `analyser bug, please report: ${mismatch}` };
  });
  const changes: Change[] = [...decisions, ...diffStructure(oldLoaded.check.analysis.config, newLoaded.check.analysis.config)];
  const sortKey = (c: Change) => [ORDER.indexOf(c.kind), "tool" in c ? c.tool : "secret" in c ? c.secret : c.agent, "agents" in c ? c.agents.join(",") : "", JSON.stringify(c)] as const;
  changes.sort((a, b) => {
    const [ka, kb] = [sortKey(a), sortKey(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    return 0;
  });
  return { ok: true, diff: { changes } };
}

export function widened(diff: ConfigDiff): boolean {
  return diff.changes.some((c) => c.kind === "widened");
}
