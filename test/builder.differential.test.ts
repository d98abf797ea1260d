// Differential test of the generated request builder against test/reference/encoding-reference.ts, on
// random and hostile values (separators, dot segments, percent signs, CR/LF, NUL, astral characters, and
// text that spells a secret template). KR_BUILDER_RUNS sets the number of inputs.

import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { generatedTree } from "../compiler/build.js";
import { checkSources } from "../compiler/index.js";
import { generateConfig } from "../compiler/phases/5-generate/generate-config.js";
import { bundleRuntime } from "../compiler/phases/6-bundle/bundle-runtime.js";
import type { CompiledConfig, HttpRequestPlan } from "../runtime-template/contract/tool-module.js";
import { headerValue, pathSegment, queryPair } from "./reference/encoding-reference.js";

const RUNS = Number(process.env.KR_BUILDER_RUNS ?? 5000);
const TOOL = `tool: probe_builder
description: every template context
input:
  id: string
  name: string
  q: string
  note: string
  count: integer
  flag: boolean
run:
  type: http
  method: POST
  url: https://api.example.com/v1/items/\${id}/sub/\${name}.json?q=\${q}&fixed=yes
  auth: { secret: API_TOKEN }
  headers:
    X-Note: "note:\${note}"
  body:
    count: \${count}
    flag: \${flag}
    label: "L-\${name}"
    nested: { q: "\${q}", literal: 7 }
`;

const nasty = fc.constantFrom("", ".", "..", "../etc/passwd", "a/b", "?x=1", "#frag", "%2e%2e", "%", "a b", "+", "&x=y", "\r\nX-Injected: 1", "\n", "\t", "\u0000", "😀", "é", "${secrets.API_TOKEN}", "$${x}", "~._-", "\u007f", "\u2028");
const text = fc.oneof(nasty, fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ unit: "binary", maxLength: 8 }));

describe("generated request builder against the reference encoding", () => {
  it(`encodes ${RUNS} random inputs exactly as SPEC section 2 says`, async () => {
    const result = checkSources([
      { path: "tools/probe.yaml", kind: "tool", text: TOOL },
      { path: "policies/p.yaml", kind: "policy", text: "policy: p\nallow:\n  - tool: probe_builder\n" },
    ]);
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const file = join(mkdtempSync(join(tmpdir(), "kr-builder-")), "keyrunner.mjs");
    writeFileSync(file, (await bundleRuntime(generatedTree(await generateConfig(result.analysis!)))).code);
    const tool = ((await import(pathToFileURL(file).href)) as { config: CompiledConfig }).config.tools.get("probe_builder")!;
    let refused = 0;
    fc.assert(
      fc.property(fc.record({ id: text, name: text, q: text, note: text, count: fc.integer(), flag: fc.boolean() }), (input) => {
        const id = pathSegment(input.id);
        const name = pathSegment(input.name);
        const note = headerValue(`note:${input.note}`);
        let plan: HttpRequestPlan | undefined;
        let error: Error | undefined;
        try {
          plan = tool.plan(input as never, (n) => (n === "API_TOKEN" ? "tok_secret_value" : "?")) as HttpRequestPlan;
        } catch (e) {
          error = e as Error;
        }
        if (!id.ok || !name.ok || !note.ok) {
          refused++;
          expect(plan, "a value the reference refuses must be refused").toBeUndefined();
          expect(error?.constructor.name).toBe("TemplateValueError");
          return;
        }
        expect(error).toBeUndefined();
        expect(plan!.path).toBe(`/v1/items/${id.value}/sub/${name.value}.json`);
        expect(plan!.query).toBe(`${queryPair("q", input.q)}&${queryPair("fixed", "yes")}`);
        expect(plan!.headers).toEqual([["x-note", note.value], ["authorization", "Bearer tok_secret_value"]]);
        expect(JSON.parse(plan!.body!.text)).toEqual({ count: input.count, flag: input.flag, label: `L-${input.name}`, nested: { q: input.q, literal: 7 } });
        // One pass: no input ever turns into the secret.
        expect(plan!.body!.text.includes("tok_secret_value") || plan!.path.includes("tok_secret_value") || plan!.query.includes("tok_secret_value")).toBe(false);
      }),
      { numRuns: RUNS },
    );
    expect(refused).toBeGreaterThan(RUNS / 50);
    console.log(`request builder vs reference: ${RUNS} inputs, ${refused} refused by both`);
  });
});
