// Shadow decisions and audit replay against the real bundle process and a real upstream. The bundle
// enforces refunds up to 1000 and shadows a candidate that allows 101–5000: the upstream receives exactly
// what the enforced config allows, the agent gets the enforced answers, the decision records carry
// `shadow` where the candidate disagrees, /metrics counts the disagreements by rule, and `keyrunner replay`
// of that audit against the candidate finds the same requests changed.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../../compiler/build.js";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { keyrunner } from "../support/cli.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_shadow_0123456789abcdef";
const METRICS_TOKEN = "kr_metrics_scraper_token_shadow";
const upstream = new Upstream();
let enforcedDir: string;
let candidateDir: string;
let running: RunningBundle;
let audit: string;

const tool = (origin: string) =>
  `tool: refund_payment\ndescription: Refund\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: ${origin}/v1/refunds\n  auth: { secret: STRIPE_API_KEY }\n  body: { payment_intent: "\${payment_id}", amount: "\${amount_cents}" }\n`;
const policy = (when: string) => `policy: refunds\nagents: [support-agent]\nallow:\n  - tool: refund_payment\n    when: ${when}\n`;
const refund = (amount: number) => ({ agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_${amount}`, amount_cents: amount }, reason: "the customer asked" });

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  enforcedDir = writeConfig({ "tools/refund_payment.yaml": tool(origin), "policies/refunds.yaml": policy("{ amount_cents: { max: 1000 }, require_reason: true }") });
  candidateDir = writeConfig({ "tools/refund_payment.yaml": tool(origin), "policies/refunds.yaml": policy("{ amount_cents: { min: 101, max: 5000 }, require_reason: true }") });
  const built = await buildConfig({ dir: enforcedDir }, join(enforcedDir, "dist"), { dir: candidateDir });
  if (built.manifest === undefined) throw new Error(JSON.stringify(built.check.diagnostics));
  expect(built.manifest.shadow_config_sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(built.manifest.shadow_config_sha256).not.toBe(built.manifest.config_sha256);
  audit = join(enforcedDir, "audit.jsonl");
  running = await startBundle(join(enforcedDir, "dist", "keyrunner.mjs"), ["--audit", audit, "--metrics-token-sha256", sha256Hex(METRICS_TOKEN)], { STRIPE_API_KEY: SECRET });
}, 120_000);

afterAll(async () => {
  await running?.stop();
  await upstream.stop();
});

describe("build --shadow", () => {
  const answers = new Map<number, { status: number; body: any }>();

  it("enforces only the built config: the upstream receives exactly what it allows", async () => {
    for (const amount of [50, 500, 3000]) answers.set(amount, await post(`${running.url}/v1/execute`, refund(amount)));
    expect(answers.get(50)!.status).toBe(200);
    expect(answers.get(500)!.status).toBe(200);
    // The shadow would allow 3000; the agent gets the enforced denial and nothing leaves.
    expect(answers.get(3000)!.status).toBe(403);
    expect(answers.get(3000)!.body.status).toBe("denied");
    expect(JSON.stringify(answers.get(3000)!.body)).not.toContain("shadow");
    const refunds = upstream.received.filter((r) => r.url === "/v1/refunds");
    expect(refunds.map((r) => JSON.parse(r.body).amount).sort((a, b) => a - b)).toEqual([50, 500]);
  });

  it("records the shadow decision where it differs, and counts it in /metrics by rule", async () => {
    const records = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const decisionOf = (amount: number) => records.find((r) => r.id === answers.get(amount)!.body.audit_id && r.decision !== "outcome");
    expect(decisionOf(50)).toMatchObject({ decision: "allow", rule: "policies/refunds.yaml#allow[0]", shadow: { decision: "deny" } });
    expect(decisionOf(50).shadow.rule).toBeUndefined();
    expect(decisionOf(500).shadow).toBeUndefined();
    expect(decisionOf(3000)).toMatchObject({ decision: "deny", shadow: { decision: "allow", rule: "policies/refunds.yaml#allow[0]" } });
    // Outcome records never carry it, and the chain still verifies with the new field.
    expect(records.filter((r) => r.decision === "outcome").every((r) => r.shadow === undefined)).toBe(true);
    expect(verifyAuditFile(audit, undefined).ok).toBe(true);
    const metrics = await (await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics).toContain('keyrunner_shadow_disagreements_total{tool="refund_payment",rule="policies/refunds.yaml#allow[0]",decision="allow",shadow_rule="",shadow_decision="deny"} 1');
    expect(metrics).toContain('keyrunner_shadow_disagreements_total{tool="refund_payment",rule="",decision="deny",shadow_rule="policies/refunds.yaml#allow[0]",shadow_decision="allow"} 1');
  });

  it("keyrunner replay re-decides the audit against the candidate, executing nothing", async () => {
    const before = upstream.received.length;
    const result = await keyrunner(["replay", "--audit", audit, candidateDir, "--format", "json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.replayed).toBe(3);
    const byId = new Map(report.changed.map((c: any) => [c.audit_id, c]));
    expect(byId.size).toBe(2);
    expect(byId.get(answers.get(50)!.body.audit_id)).toMatchObject({ old: { decision: "allow", rule: "policies/refunds.yaml#allow[0]" }, new: { decision: "deny" } });
    expect(byId.get(answers.get(3000)!.body.audit_id)).toMatchObject({ old: { decision: "deny" }, new: { decision: "allow", rule: "policies/refunds.yaml#allow[0]" } });
    // The records came from the enforced config, not the candidate: the report says so.
    expect(report.configs).toHaveLength(1);
    expect(report.configs[0]).toMatchObject({ records: 3, candidate: false });
    expect(report.changed.every((c: any) => c.config === report.configs[0].config)).toBe(true);
    expect(report.summary).toContainEqual({ old_rule: "policies/refunds.yaml#allow[0]", old_decision: "allow", new_rule: "(no rule)", new_decision: "deny", count: 1 });
    // Against the enforced config itself nothing changes, and the records are its own.
    const same = JSON.parse((await keyrunner(["replay", "--audit", audit, enforcedDir, "--format", "json"])).stdout);
    expect(same.changed).toEqual([]);
    expect(same.configs[0].candidate).toBe(true);
    const text = await keyrunner(["replay", "--audit", audit, candidateDir]);
    expect(text.stdout).toContain("replayed 3 decision records");
    expect(text.stdout).toContain("2 changed");
    expect(upstream.received.length).toBe(before);
    expect((await keyrunner(["replay", "--audit", join(enforcedDir, "missing.jsonl"), candidateDir])).code).toBe(2);
  }, 120_000);
});
