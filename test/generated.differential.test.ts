// Differential test: the generated validator and decision code, bundled exactly as `keyrunner build`
// bundles it, against the reference evaluator of SPEC sections 2–3 (test/reference), on random sound
// configurations and random requests: identical verdicts and identical rule ids.
// KR_DIFFERENTIAL_TOOLS sets how many random tools (each with its own random rules) are compiled.

import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { generatedTree } from "../compiler/build.js";
import { checkSources } from "../compiler/index.js";
import { generateConfig } from "../compiler/phases/5-generate/generate-config.js";
import { bundleRuntime } from "../compiler/phases/6-bundle/bundle-runtime.js";
import type { CompiledConfig } from "../runtime-template/contract/tool-module.js";
import { inputIsValid, ruleMatches, type RawPolicy, type RawRule } from "./reference/policy-reference.js";
import { caseArb, inputArb, probeTool } from "./support/policy-generators.js";

const TOOLS = Number(process.env.KR_DIFFERENTIAL_TOOLS ?? 150);
const REQUESTS_PER_TOOL = Number(process.env.KR_DIFFERENTIAL_REQUESTS ?? 400);

interface ToolCase {
  name: string;
  rules: Array<{ id: string; policy: RawPolicy; rule: RawRule; effect: "allow" | "deny" }>;
  files: Array<{ path: string; kind: "tool" | "policy"; text: string }>;
}

/** Random rule sets for one tool each, kept only when the compiler proves them sound. */
function soundToolCases(count: number): ToolCase[] {
  const cases: ToolCase[] = [];
  let attempt = 0;
  const samples = fc.sample(caseArb, { numRuns: count * 40, seed: Number(process.env.KR_DIFFERENTIAL_SEED ?? 7) });
  for (const c of samples) {
    if (cases.length >= count) break;
    const name = `probe_${attempt++}`;
    const rules: ToolCase["rules"] = [];
    const policies: RawPolicy[] = [];
    c.whens.forEach((when, i) => {
      const effect = c.effects[i]!;
      const rule: RawRule = { tool: name, ...(Object.keys(when).length > 0 ? { when } : {}) };
      const policy: RawPolicy = { policy: `${name}_p${i}`, ...(c.agents[i] === undefined ? {} : { agents: c.agents[i] }), [effect]: [rule] };
      policies.push(policy);
      rules.push({ id: `policies/${name}_p${i}.yaml#${effect}[0]`, policy, rule, effect });
    });
    const files = [
      { path: `tools/${name}.yaml`, kind: "tool" as const, text: stringify(probeTool(name)) },
      ...policies.map((p) => ({ path: `policies/${p.policy}.yaml`, kind: "policy" as const, text: stringify(JSON.parse(JSON.stringify(p))) })),
    ];
    if (checkSources(files).analysis !== undefined) cases.push({ name, rules, files });
  }
  return cases;
}

describe("generated code against the reference evaluator", () => {
  it(`agrees on ${TOOLS} random sound tools × ${REQUESTS_PER_TOOL} requests`, async () => {
    const cases = soundToolCases(TOOLS);
    expect(cases.length).toBe(TOOLS);
    const result = checkSources(cases.flatMap((c) => c.files));
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const bundle = await bundleRuntime(generatedTree(await generateConfig(result.analysis!)));
    const file = join(mkdtempSync(join(tmpdir(), "kr-diff-")), "keyrunner.mjs");
    writeFileSync(file, bundle.code);
    const { config } = (await import(pathToFileURL(file).href)) as { config: CompiledConfig };

    const requests = fc.sample(inputArb, { numRuns: REQUESTS_PER_TOOL, seed: 11 });
    const counts = { invalid: 0, allow: 0, deny: 0, noRule: 0 };
    for (const c of cases) {
      const tool = config.tools.get(c.name)!;
      const raw = probeTool(c.name);
      for (const request of requests) {
        const expectedValid = inputIsValid(raw, request.input);
        // What the engine does: a prepared copy (defaults applied to it), the request's object unchanged.
        const before = JSON.stringify(request.input);
        const prepared = tool.prepare(request.input);
        expect(JSON.stringify(request.input), "prepare never changes the caller's input").toBe(before);
        expect(prepared.errors === undefined, `${c.name} validity of ${JSON.stringify(request.input)}`).toBe(expectedValid);
        if (prepared.errors !== undefined) {
          counts.invalid++;
          continue;
        }
        const input = prepared.input;
        const matching = c.rules.filter((r) => ruleMatches(raw, r.policy, r.rule, { ...request, tool: c.name, input }));
        expect(matching.length, "a sound config has at most one matching rule").toBeLessThanOrEqual(1);
        const decision = tool.decide(request.agent, input as never, request.reason);
        const expected = matching[0];
        expect({ effect: decision.effect, rule: decision.rule }, `${c.name}: ${JSON.stringify(request)}`).toEqual({
          effect: expected?.effect ?? "deny",
          rule: expected?.id,
        });
        if (expected === undefined) counts.noRule++;
        else counts[expected.effect]++;
      }
    }
    // Every verdict must come up often enough for the comparison to mean something.
    const total = TOOLS * REQUESTS_PER_TOOL;
    expect(counts.allow).toBeGreaterThan(total / 100);
    expect(counts.deny).toBeGreaterThan(total / 200);
    expect(counts.invalid).toBeGreaterThan(total / 100);
    console.log(`generated vs reference: ${total} decisions on ${TOOLS} tools — ${JSON.stringify(counts)}`);
  });
});
