// The SDK, in process and as a client of the real bundle, against a real upstream on 127.0.0.1.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRunner, KeyRunnerConfigError } from "../sdk/index.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "./support/bundle-process.js";
import { seedConfig } from "./support/seed-config.js";
import { Upstream } from "./support/upstream.js";

const SECRET = "sk_test_sdk_0123456789";
const upstream = new Upstream();
let dir: string;
let server: RunningBundle;

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "bundle-audit.jsonl")], { STRIPE_API_KEY: SECRET });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("new KeyRunner({ tools, policies }) — in process", () => {
  it("runs the seed's snippet as written and returns SPEC section 5's shapes", async () => {
    process.env.STRIPE_API_KEY = SECRET;
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const runtime = new KeyRunner({ tools: "./tools", policies: "./policies", auditFile: join(mkdtempSync(join(tmpdir(), "kr-sdk-")), "a.jsonl") });
      const result = await runtime.execute({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 } });
      // The seed policy requires a reason, which the snippet does not give: denied, and nothing sent.
      expect(result).toEqual({
        status: "denied",
        reason: "no rule allows this request: a reason is required (policies/support_refunds.yaml#allow[0])",
        failed: [{ rule: "policies/support_refunds.yaml#allow[0]", failed: ["a reason is required"] }],
        audit_id: expect.any(String),
      });
      const mark = upstream.received.length;
      const ok = await runtime.execute({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
      expect(ok).toMatchObject({ status: "ok", http_status: 200 });
      expect(upstream.since(mark).map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`]);
      expect(process.env.STRIPE_API_KEY).toBeUndefined();
      await runtime.close();
    } finally {
      process.chdir(cwd);
    }
  });

  it("decides, audits and sends the canonical copy of a `format` input, and never changes the caller's object", async () => {
    const config = writeConfig({
      "tools/send_note.yaml": `tool: send_note\ndescription: Send a note\ninput:\n  to: { type: string, format: email }\n  folder: { type: string, format: path, default: /inbox/ }\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/notes\n  body: { to: "\${to}", folder: "\${folder}" }\n`,
      "policies/notes.yaml": `policy: notes\nallow:\n  - tool: send_note\n    when:\n      to: { not_ends_with: "@acme.example", ignore_case: true }\n`,
    });
    const audit = join(mkdtempSync(join(tmpdir(), "kr-sdk-")), "a.jsonl");
    const runtime = new KeyRunner({ tools: join(config, "tools"), policies: join(config, "policies"), auditFile: audit, agent: "a" });
    try {
      // Frozen: a default written into it, or a canonical value put back, would throw.
      const input = Object.freeze({ to: "jo@Customer.EXAMPLE." });
      const mark = upstream.received.length;
      expect(await runtime.execute({ tool: "send_note", input })).toMatchObject({ status: "ok" });
      expect(input).toEqual({ to: "jo@Customer.EXAMPLE." });
      expect(JSON.parse(upstream.since(mark)[0]!.body)).toEqual({ to: "jo@customer.example", folder: "/inbox/" });
      expect(await runtime.execute({ tool: "send_note", input: Object.freeze({ to: "bob@ACME\uff0eexample." }) })).toMatchObject({ status: "denied" });
      expect(upstream.since(mark)).toHaveLength(1);
    } finally {
      await runtime.close();
    }
  });

  it("takes the deployment context as `serve --context` does; a tool whose rules test a key not given is not decided", async () => {
    const config = writeConfig({
      "context.yaml": "context:\n  environment: [staging, production]\n",
      "tools/restart.yaml": `tool: restart_service\ndescription: Restart\ninput:\n  service: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/restart/\${service}\n`,
      "tools/note.yaml": `tool: send_note\ndescription: Note\ninput:\n  text: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/notes\n  body: { text: "\${text}" }\n`,
      "policies/ops.yaml": "policy: ops\nallow:\n  - tool: restart_service\n    when:\n      context.environment: { equals: staging }\n  - tool: send_note\n",
    });
    const cwd = process.cwd();
    process.chdir(config); // context.yaml is read from the config root, the current folder (as `keyrunner check --tools --policies`)
    const audit = join(mkdtempSync(join(tmpdir(), "kr-sdk-")), "a.jsonl");
    const without = new KeyRunner({ tools: "./tools", policies: "./policies", auditFile: audit, agent: "a" });
    const staging = new KeyRunner({ tools: "./tools", policies: "./policies", auditFile: join(mkdtempSync(join(tmpdir(), "kr-sdk-")), "a.jsonl"), agent: "a", context: { environment: "staging" } });
    try {
      const mark = upstream.received.length;
      expect(await without.execute({ tool: "send_note", input: { text: "hi" } })).toMatchObject({ status: "ok" });
      expect(await without.execute({ tool: "restart_service", input: { service: "api" } })).toEqual({
        status: "unavailable",
        message: "the rules of restart_service test the context environment, which was not given, so nothing is decided or executed",
        audit_id: expect.any(String),
      });
      expect(upstream.since(mark).map((r) => r.url)).toEqual(["/notes"]);
      expect(await staging.execute({ tool: "restart_service", input: { service: "api" } })).toMatchObject({ status: "ok" });
      expect(upstream.since(mark).map((r) => r.url)).toEqual(["/notes", "/restart/api"]);
      const bad = new KeyRunner({ tools: "./tools", policies: "./policies", auditFile: join(mkdtempSync(join(tmpdir(), "kr-sdk-")), "a.jsonl"), agent: "a", context: { environment: "prod" } });
      await expect(bad.execute({ tool: "send_note", input: { text: "x" } })).rejects.toThrow('--context environment="prod": environment is one of staging, production');
    } finally {
      process.chdir(cwd);
      await without.close();
      await staging.close();
    }
  });

  it("throws a readable error when the config does not compile", async () => {
    const broken = join(import.meta.dirname, "errors", "overlap-allow-and-deny");
    const runtime = new KeyRunner({ tools: join(broken, "tools"), policies: join(broken, "policies"), agent: "a" });
    await expect(runtime.execute({ tool: "refund_payment", input: {} })).rejects.toBeInstanceOf(KeyRunnerConfigError);
    await expect(runtime.execute({ tool: "refund_payment", input: {} })).rejects.toThrow(/error KR4002 rules overlap/);
  });
});

describe("new KeyRunner({ url, token }) — client of a running bundle", () => {
  it("returns the bundle's answers unchanged", async () => {
    const client = new KeyRunner({ url: server.url, agent: "support-agent" });
    const mark = upstream.received.length;
    expect(await client.execute({ tool: "refund_payment", input: { payment_id: "pi_9", amount_cents: 9000 }, reason: "r" })).toEqual({
      status: "denied",
      reason: "no rule allows this request: amount_cents 9000 is above 5000 (policies/support_refunds.yaml#allow[0])",
      failed: [{ rule: "policies/support_refunds.yaml#allow[0]", failed: ["amount_cents 9000 is above 5000"] }],
      audit_id: expect.any(String),
    });
    expect(upstream.since(mark)).toHaveLength(0);
    expect(await client.execute({ tool: "refund_payment", input: { payment_id: "pi_9" } })).toMatchObject({ status: "invalid", errors: [{ path: "amount_cents", message: "is required" }] });
    expect((await client.tools()).map((t) => t.name)).toEqual(["refund_payment"]);
  });
});
