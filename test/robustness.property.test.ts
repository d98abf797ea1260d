// The compiler never crashes: random documents built from the config vocabulary, with values of every
// type in every place, always come back as diagnostics (or a clean pass), never as an exception.

import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSources } from "../compiler/index.js";

const RUNS = Number(process.env.KR_ROBUSTNESS_RUNS ?? 2_000);

const word = fc.constantFrom(
  "tool", "description", "input", "run", "type", "http", "exec", "method", "url", "auth", "secret", "scheme", "name",
  "headers", "query", "body", "encoding", "command", "env", "cwd", "output", "pick", "redact", "optional", "default",
  "enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "items", "allow_dash",
  "policy", "agents", "allow", "deny", "when", "reason", "require_reason", "require_approval", "expires",
  "rate_limit", "budget", "sum", "max", "min", "per", "equals", "in", "not_in", "starts_with", "matches",
  "not_matches", "max_length", "subset_of", "each_matches", "max_items", "amount", "max_amount", "payment_id",
);
const scalar = fc.oneof(
  word,
  fc.constantFrom("string", "number?", "integer[]", "boolean", "https://api.example.com/v1/${amount}", "${secrets.KEY}",
    "${", "^a", "(a+)+$", "(?=x)", "[", "GET", "POST", "1h", "bearer", "header", "", "${amount}", "http://10.0.0.1/"),
  fc.integer({ min: -3, max: 5 }),
  fc.constantFrom(0.5, 1e308, -0, Number.NaN, Number.POSITIVE_INFINITY),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ maxDepth: 4 }, scalar, fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(word, tie("node"), { maxKeys: 4 })),
})).node;

const toolDoc = fc.record({ tool: fc.oneof(word, scalar), description: scalar, input: value, run: value }, { requiredKeys: [] });
const policyDoc = fc.record({ policy: fc.oneof(word, scalar), agents: value, allow: value, deny: value }, { requiredKeys: [] });

describe("robustness", () => {
  it(`never throws on ${RUNS} random configs`, () => {
    fc.assert(
      fc.property(fc.array(toolDoc, { maxLength: 2 }), fc.array(policyDoc, { maxLength: 2 }), fc.boolean(), (tools, policies, refund) => {
        const files = [
          ...tools.map((doc, i) => ({ path: `tools/t${i}.yaml`, kind: "tool" as const, text: stringify(doc) })),
          ...policies.map((doc, i) => ({ path: `policies/p${i}.yaml`, kind: "policy" as const, text: stringify(doc) })),
        ];
        if (refund) {
          files.push({
            path: "tools/refund.yaml",
            kind: "tool",
            text: "tool: refund_payment\ndescription: d\ninput:\n  payment_id: string\n  amount: integer\nrun: { type: http, method: POST, url: https://api.example.com/r }\n",
          });
        }
        const result = checkSources(files);
        for (const d of result.diagnostics) {
          expect(d.span.line).toBeGreaterThanOrEqual(1);
          expect(d.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`never throws when well-formed documents carry random conditions and field definitions (${RUNS} runs)`, () => {
    const fieldName = fc.constantFrom("payment_id", "amount", "tags", "flag", "note", "max_amount", "min_amount", "require_reason", "amout");
    const fieldSpec = fc.oneof(
      fc.constantFrom("string", "integer", "number?", "boolean", "string[]", "integer[]"),
      fc.record({ type: fc.constantFrom("string", "integer", "number", "boolean", "string[]", "integer[]") }).chain((base) =>
        fc.dictionary(fc.constantFrom("optional", "default", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "items", "allow_dash"), value, { maxKeys: 4 }).map((extra) => ({ ...extra, ...base })),
      ),
    );
    const operand = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
    const condition = fc.oneof(scalar, fc.dictionary(word, operand, { maxKeys: 3 }));
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("payment_id", "amount", "tags", "flag", "note"), fieldSpec, { maxKeys: 5 }),
        fc.array(fc.dictionary(fieldName, condition, { maxKeys: 3 }), { minLength: 1, maxLength: 3 }),
        (input, whens) => {
          const tool = { tool: "probe", description: "d", input, run: { type: "http", method: "POST", url: "https://api.example.com/v1/${payment_id}" } };
          const policy = { policy: "p", allow: whens.map((when) => ({ tool: "probe", when })) };
          const result = checkSources([
            { path: "tools/probe.yaml", kind: "tool", text: stringify(tool) },
            { path: "policies/p.yaml", kind: "policy", text: stringify(policy) },
          ]);
          expect(Array.isArray(result.diagnostics)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
