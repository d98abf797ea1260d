// context.yaml: the deployment context keys a policy may test (`context.<key>`) and each key's values.
// `serve --context key=value` sets them; the analyser treats each key as a finite set of its values.

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument } from "../1-load/config-document.js";

const KEY = /^[a-z][a-z0-9_]{0,63}$/;
/** Values are given on a command line as `key=value`: printable, no spaces, at most 64 characters. */
const VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function resolveContext(doc: ConfigDocument | undefined, log: DiagnosticLog): Map<string, readonly string[]> {
  const context = new Map<string, readonly string[]>();
  if (doc === undefined) return context;
  const raw = doc.value as unknown;
  const top = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (top === undefined || !Object.hasOwn(top, "context")) {
    log.report("KR3025", doc.spanAt([]), "context.yaml must have a `context:` map of keys and their values");
    return context;
  }
  for (const extra of Object.keys(top).filter((k) => k !== "context")) {
    log.report("KR3025", doc.spanAt([extra], "key"), `unknown key \`${extra}\` in context.yaml`);
  }
  const keys = top.context;
  if (keys === null || typeof keys !== "object" || Array.isArray(keys)) {
    log.report("KR3025", doc.spanAt(["context"]), "`context` must map each key to the list of its values");
    return context;
  }
  for (const [key, values] of Object.entries(keys as Record<string, unknown>)) {
    if (!KEY.test(key)) {
      log.report("KR3025", doc.spanAt(["context", key], "key"), `context key \`${key}\` must match ^[a-z][a-z0-9_]{0,63}$`);
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      log.report("KR3025", doc.spanAt(["context", key]), `context key \`${key}\` must list its values, e.g. \`${key}: [a, b]\``);
      continue;
    }
    const bad = values.findIndex((v) => typeof v !== "string" || !VALUE.test(v));
    if (bad >= 0) {
      log.report("KR3025", doc.spanAt(["context", key, bad]), `value ${JSON.stringify(values[bad])} of \`${key}\` must be a word of letters, digits, \`_\`, \`.\`, \`:\` or \`-\` (at most 64)`);
      continue;
    }
    const duplicate = values.findIndex((v, i) => values.indexOf(v) !== i);
    if (duplicate >= 0) {
      log.report("KR3025", doc.spanAt(["context", key, duplicate]), `value \`${String(values[duplicate])}\` of \`${key}\` is listed twice`);
      continue;
    }
    context.set(key, [...(values as string[])]);
  }
  return context;
}
