// The compiler as a library: load → validate → resolve → analyse (→ generate → bundle, in `build`).
// Diagnostics of every phase go to one log; a phase runs only when the ones before it had no errors.

import { DiagnosticLog, type Diagnostic } from "./diagnostics/diagnostic.js";
import { loadConfig, parseConfigSources, type ConfigLocation, type LoadedConfig, type SourceFile } from "./phases/1-load/load-config.js";
import { validateConfig } from "./phases/2-validate/validate-config.js";
import { resolveConfig } from "./phases/3-resolve/resolve-config.js";
import { analyseConfig, type Analysis } from "./phases/4-analyze/analyze-rules.js";

export interface CheckResult {
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  /** Present when the config has no errors. */
  readonly analysis?: Analysis;
}

/** `keyrunner check`: read DIR/tools and DIR/policies and prove the config sound. */
export function check(location: ConfigLocation): CheckResult {
  const log = new DiagnosticLog();
  return checkLoaded(loadConfig(location, log), log);
}

/** The same, on sources already in memory (the SDK, tests, editors). */
export function checkSources(files: readonly SourceFile[]): CheckResult {
  const log = new DiagnosticLog();
  return checkLoaded(parseConfigSources(files, log), log);
}

function checkLoaded(loaded: LoadedConfig, log: DiagnosticLog): CheckResult {
  const done = (analysis?: Analysis): CheckResult => ({
    diagnostics: log.sorted(),
    sources: loaded.sources,
    ...(analysis === undefined || log.hasErrors() ? {} : { analysis }),
  });
  // Validation and resolution see only the documents that got through the phase before them, so
  // they run even after errors elsewhere; the analysis needs a whole, resolved config.
  const validated = validateConfig(loaded, log);
  const resolved = resolveConfig(validated, log);
  if (log.hasErrors()) return done();
  return done(analyseConfig(resolved, log));
}

export type { Diagnostic, WitnessRequest } from "./diagnostics/diagnostic.js";
export type { SourceFile, ConfigLocation } from "./phases/1-load/load-config.js";
export type { Analysis } from "./phases/4-analyze/analyze-rules.js";
export { renderHuman, renderJson, renderSummary } from "./diagnostics/render.js";
