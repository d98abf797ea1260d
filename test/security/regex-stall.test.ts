// Issue 13, point 11: no regular expression can stall the real bundle. Patterns whose ambiguity scslre
// misses — as policy `matches` / `not_matches` / `each_matches` and as tool-schema `pattern` — and
// random ones, on values up to the body limit: each request is answered within a bound, and /healthz
// keeps answering while it runs. With a backtracking RegExp, 30 characters block the server for minutes.

import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPattern } from "../../compiler/phases/3-resolve/regex-pattern.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { regexSource } from "../support/regex-generators.js";
import { Upstream } from "../support/upstream.js";

/** Generous, so that it does not flake on a loaded machine; a backtracking engine takes minutes. */
const ANSWER_WITHIN_MS = 2_000;
const BODY_LIMIT = 1024 * 1024;
/** Room for the JSON around the value inside the 1 MiB body. */
const LONGEST_VALUE = BODY_LIMIT - 200;

const HOSTILE: Array<{ pattern: string; unit: string }> = [
  { pattern: "^(x|x)*y$", unit: "x" },
  { pattern: "^(a|a)*$", unit: "a" },
  { pattern: "^(\\d|\\d\\d)*x$", unit: "1" },
  { pattern: "^(a|aa)+$", unit: "a" },
];
// Random patterns of the supported subset that `check` accepts, drawn with a fixed seed; one that finds
// the empty string matches everything, and a condition that always holds is an error.
const RANDOM = fc
  .sample(regexSource, { numRuns: 400, seed: 13 })
  .filter((source) => checkPattern(source).ok && !new RegExp(source, "u").test(""))
  .slice(0, 8)
  .map((pattern) => ({ pattern, unit: "a" }));
const ALL = [...HOSTILE, ...RANDOM];

const upstream = new Upstream();
let server: RunningBundle;

const yaml = (text: string) => JSON.stringify(text);
function toolFile(name: string, input: string, origin: string): string {
  return [`tool: ${name}`, "description: probes a pattern", "input:", input, "run:", "  type: http", "  method: POST", `  url: ${origin}/probe`, "  body:", '    v: "${value}"', ""].join("\n");
}

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  const files: Record<string, string> = {};
  const rules: string[] = [];
  ALL.forEach(({ pattern }, i) => {
    files[`tools/policy_${i}.yaml`] = toolFile(`policy_${i}`, "  value: string", origin);
    rules.push(`  - tool: policy_${i}\n    when: { value: { matches: ${yaml(pattern)} } }`);
    files[`tools/negated_${i}.yaml`] = toolFile(`negated_${i}`, "  value: string", origin);
    rules.push(`  - tool: negated_${i}\n    when: { value: { not_matches: ${yaml(pattern)} } }`);
    files[`tools/schema_${i}.yaml`] = toolFile(`schema_${i}`, `  value: { type: string, pattern: ${yaml(pattern)} }`, origin);
    rules.push(`  - tool: schema_${i}`);
    files[`tools/list_${i}.yaml`] = toolFile(`list_${i}`, "  value: string[]", origin);
    rules.push(`  - tool: list_${i}\n    when: { value: { each_matches: ${yaml(pattern)} } }`);
  });
  files["policies/probe.yaml"] = `policy: probe\nallow:\n${rules.join("\n")}\n`;
  const dir = writeConfig(files);
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl")], {});
}, 120_000);

afterAll(async () => {
  // A stalled server would not drain on SIGTERM: kill it outright.
  server?.kill9();
  await upstream.stop();
});

/** POSTs and measures, while /healthz is asked every 100 ms; a stalled event loop fails both. */
async function timedExecute(tool: string, value: unknown): Promise<{ status: number; ms: number; healthOk: boolean }> {
  const started = performance.now();
  let healthOk = true;
  let done = false;
  const health = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 100));
      if (done) break;
      const ok = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }).then((r) => r.ok, () => false);
      healthOk &&= ok;
    }
  })();
  try {
    const response = await fetch(`${server.url}/v1/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent: "probe-agent", tool, input: { value } }),
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    await response.text();
    return { status: response.status, ms: performance.now() - started, healthOk };
  } finally {
    done = true;
    await health;
  }
}

describe("a hostile value cannot stall the server", () => {
  const cases = ALL.flatMap(({ pattern, unit }, i) => [
    { name: `\`${pattern}\` as policy matches, 30 characters`, tool: `policy_${i}`, value: unit.repeat(30) + "!" },
    { name: `\`${pattern}\` as policy matches, up to the body limit`, tool: `policy_${i}`, value: unit.repeat(LONGEST_VALUE - 1) + "!" },
    { name: `\`${pattern}\` as policy not_matches, up to the body limit`, tool: `negated_${i}`, value: unit.repeat(LONGEST_VALUE - 1) + "!" },
    { name: `\`${pattern}\` as a tool-schema pattern, 30 characters`, tool: `schema_${i}`, value: unit.repeat(30) + "!" },
    { name: `\`${pattern}\` as a tool-schema pattern, up to the body limit`, tool: `schema_${i}`, value: unit.repeat(LONGEST_VALUE - 1) + "!" },
    { name: `\`${pattern}\` as each_matches, up to the body limit`, tool: `list_${i}`, value: [unit.repeat(30) + "!", unit.repeat(LONGEST_VALUE - 100) + "!"] },
  ]);

  it.each(cases)("$name: answered within the bound, /healthz answering meanwhile", async ({ tool, value }) => {
    const { status, ms, healthOk } = await timedExecute(tool, value);
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(healthOk).toBe(true);
    expect([200, 400, 403]).toContain(status);
  });

  it("the hostile patterns still decide as RegExp would", async () => {
    for (const [i, { pattern, unit }] of HOSTILE.entries()) {
      const matching = pattern.endsWith("x$") ? unit.repeat(4) + "x" : pattern.endsWith("y$") ? unit.repeat(4) + "y" : unit.repeat(4);
      expect(new RegExp(pattern, "u").test(matching)).toBe(true);
      expect((await timedExecute(`policy_${i}`, matching)).status, pattern).toBe(200);
      expect((await timedExecute(`policy_${i}`, unit.repeat(30) + "!")).status, pattern).toBe(403);
      expect((await timedExecute(`schema_${i}`, matching)).status, pattern).toBe(200);
      expect((await timedExecute(`schema_${i}`, unit.repeat(30) + "!")).status, pattern).toBe(400);
    }
  });
});
