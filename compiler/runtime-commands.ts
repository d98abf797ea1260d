// `keyrunner run | explain | serve`: compile in memory with the same compiler, bundle, and load the
// bundle in this process, so exactly the generated code the bundle would run is what runs here.

import { pathToFileURL } from "node:url";
import { buildToTemp } from "./build.js";
import type { CheckResult } from "./index.js";
import type { ConfigLocation } from "./phases/1-load/load-config.js";

export interface BundleModule {
  config: import("../runtime-template/contract/tool-module.js").CompiledConfig;
  createRuntime: typeof import("../runtime-template/runtime.js").createRuntime;
  createHttpServer: typeof import("../runtime-template/http/server.js").createHttpServer;
}

export async function loadCompiled(location: ConfigLocation): Promise<{ check: CheckResult; bundle?: BundleModule; bundlePath?: string }> {
  const built = await buildToTemp(location);
  if (built.bundlePath === undefined) return { check: built.check };
  const bundle = (await import(pathToFileURL(built.bundlePath).href)) as BundleModule;
  return { check: built.check, bundle, bundlePath: built.bundlePath };
}
