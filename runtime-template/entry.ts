// The bundle runs its command line only when executed (`node dist/keyrunner.mjs serve`), not when
// imported by `keyrunner run` or the SDK.

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runBundleCli } from "./cli/bundle-cli.js";
import type { CompiledConfig } from "./contract/tool-module.js";

export async function runIfMain(config: CompiledConfig, moduleUrl: string): Promise<void> {
  const invoked = process.argv[1];
  if (invoked === undefined) return;
  let same = false;
  try {
    same = realpathSync(invoked) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    same = false;
  }
  if (same) process.exitCode = await runBundleCli(config, process.argv.slice(2), moduleUrl);
}
