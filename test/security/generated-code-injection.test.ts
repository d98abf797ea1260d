// Config text placed in a generated comment stays a comment. A description, a pattern or a file name
// holding the characters that end a comment (a star and a slash; a line break in a `//` comment) once
// became code: run by the bundle at every start, and inside the compiler by `explain` and `diff`.
// (A file name cannot hold a slash, so file names carry only line breaks.) The oracle is TypeScript's own parser (no identifier of the payload anywhere in the generated code)
// and the built bundle (its `--version` prints the version and nothing the payload writes).

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { buildBundle, writeConfig } from "../support/bundle-process.js";

/** Closes a doc comment, writes to stdout, opens a comment again. */
const block = (n: number) => `*/ void (globalThis.KR_INJECTED_${n} = process.stdout.write("INJECTED ${n}\\n")); /*`;
/** Ends a `//` line with each of JavaScript's line terminators. */
const line = (n: number, br: string) => `${br}void (globalThis.KR_INJECTED_${n} = process.stdout.write("INJECTED ${n}\\n"));${br}`;

const yamlString = (text: string) => JSON.stringify(text);

function identifiers(source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isIdentifier(node) && node.text.startsWith("KR_INJECTED")) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile("generated.ts", source, ts.ScriptTarget.ES2022, true));
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)]));
}

describe("config text in generated comments", () => {
  it("a description, a schema pattern, a policy pattern and file names cannot end their comment", async () => {
    const dir = writeConfig({
      [`tools/refund ${line(1, "\n")}${line(2, "\u2028")}.yaml`]: [
        "tool: refund_payment",
        `description: ${yamlString(`Refund ${block(3)}`)}`,
        "input:",
        "  payment_id:",
        "    type: string",
        `    description: ${yamlString(`The payment ${block(4)}${line(5, "\n")}`)}`,
        `    pattern: ${yamlString(`^pi_[a-z]*/ (KR_INJECTED_6|KR_INJECTED_11)(\\r|\\n|x)?; /*$`)}`,
        "  amount_cents: number",
        "run:",
        "  type: http",
        "  method: POST",
        "  url: http://127.0.0.1:9/v1/refunds",
        "  body:",
        "    payment_intent: ${payment_id}",
        "    amount: ${amount_cents}",
      ].join("\n"),
      [`policies/refunds ${line(7, "\r")}${line(8, "\n")}${line(9, "\u2029")}.yaml`]: [
        "policy: support_refunds",
        "allow:",
        "  - tool: refund_payment",
        "    when:",
        `      payment_id: { matches: ${yamlString("^pi_[a-z]*/ KR_INJECTED_11; /*$")} }`,
        "      max_amount_cents: 5000",
      ].join("\n"),
    });
    const bundle = await buildBundle(dir);
    const generated = filesUnder(join(dir, "dist", "generated")).filter((f) => f.endsWith(".ts"));
    expect(generated.length).toBeGreaterThan(0);
    // The payloads are in the generated code, as comments: the test would pass vacuously otherwise.
    const all = generated.map((f) => readFileSync(f, "utf8")).join("\n");
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]) expect(all).toContain(`KR_INJECTED_${n}`);
    for (const file of generated) expect(identifiers(readFileSync(file, "utf8")), file).toEqual([]);
    const version = spawnSync(process.execPath, [bundle, "--version"], { encoding: "utf8" });
    expect(version.stdout).toMatch(/^keyrunner \S+\n$/);
    expect(version.status).toBe(0);
  });
});
