// Issue 13, point 8: string conditions compare as the upstream compares. The repository's own example
// tools and policies (origins pointed at a local upstream) served by the real bundle: spellings of
// `@acme.example` that a mail server reads as acme.example meet the deny, the canonical value is what
// the upstream and the audit receive, and a value with no canonical form is `400 invalid`, audited.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { eventually } from "../support/eventually.js";
import { Upstream } from "../support/upstream.js";

const root = join(import.meta.dirname, "..", "..");
const SALES = "kr_sales_token_canonical_0001";
const SUPPORT = "kr_support_token_canonical_02";
const upstream = new Upstream();
let server: RunningBundle;
let auditFile: string;

const example = (path: string, from: string, origin: string) => readFileSync(join(root, path), "utf8").replace(from, origin);
const execute = (token: string, body: unknown) => post(`${server.url}/v1/execute`, body, { authorization: `Bearer ${token}` });
const records = (id: string) =>
  readFileSync(auditFile, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((r) => r.id === id);
const contact = (email: string) => ({ tool: "create_crm_contact", input: { email, first_name: "Bob", last_name: "Lee" } });

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  const dir = writeConfig({
    "tools/create_crm_contact.yaml": example("tools/create_crm_contact.yaml", "https://api.hubapi.com", origin),
    "tools/send_email.yaml": example("tools/send_email.yaml", "https://api.postmarkapp.com", origin),
    "policies/sales_crm.yaml": example("policies/sales_crm.yaml", "", ""),
    "policies/support_email.yaml": example("policies/support_email.yaml", "", ""),
    // Not in the example config: a `path` field, checked by prefix.
    "tools/read_doc.yaml": `tool: read_doc\ndescription: Read a document\ninput:\n  path: { type: string, format: path }\nrun:\n  type: http\n  method: GET\n  url: ${origin}/docs?path=\${path}\n`,
    "policies/docs.yaml": `policy: docs\nagents: [support-agent]\nallow:\n  - tool: read_doc\n    when:\n      path: { starts_with: /public/ }\n`,
    "agents.yaml": `agents:\n  sales-agent: { token_sha256: ${sha256Hex(SALES)} }\n  support-agent: { token_sha256: ${sha256Hex(SUPPORT)} }\n`,
  });
  auditFile = join(dir, "audit.jsonl");
  server = await startBundle(await buildBundle(dir), ["--audit", auditFile, "--agents", join(dir, "agents.yaml")], { HUBSPOT_TOKEN: "hub_token_0123456789", POSTMARK_SERVER_TOKEN: "pm_token_0123456789" });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("the shipped deny on @acme.example", () => {
  it.each([
    ["an upper-case domain", "bob@ACME.example"],
    ["a trailing dot", "bob@acme.example."],
    ["full-width dots", "bob@acme\uff0eexample"],
    ["ideographic full stops, mixed case and a trailing dot", "bob@Acme\u3002EXAMPLE."],
    ["a half-width ideographic full stop", "bob@acme\uff61example"],
  ])("holds against %s, and the audit records the canonical address", async (_name, email) => {
    const mark = upstream.received.length;
    const answer = await execute(SALES, contact(email));
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ status: "denied", rule: "policies/sales_crm.yaml#deny[0]", reason: "Colleagues are managed in the HR system, not the CRM." });
    expect(upstream.since(mark)).toHaveLength(0);
    const [decision] = records(answer.body.audit_id);
    expect(decision).toMatchObject({ decision: "deny", input: { email: "bob@acme.example" } });
  });

  it("an allowed address is sent and audited in its canonical form", async () => {
    const mark = upstream.received.length;
    const answer = await execute(SALES, contact("Jo@Customer.EXAMPLE."));
    expect(answer.status).toBe(200);
    const sent = upstream.since(mark);
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!.body).properties.email).toBe("Jo@customer.example");
    const both = await eventually(() => records(answer.body.audit_id), (r) => r.length === 2);
    expect(both.map((r) => [r.decision, r.input.email])).toEqual([
      ["allow", "Jo@customer.example"],
      ["outcome", "Jo@customer.example"],
    ]);
  });

  it("a colleague in any spelling is email to a colleague for the support agent", async () => {
    const mark = upstream.received.length;
    const answer = await execute(SUPPORT, { tool: "send_email", input: { to: "ana@ACME\uff0eExample.", subject: "Handover", text: "Notes attached." } });
    expect(answer.body).toMatchObject({ status: "ok" });
    expect(answer.body.audit_id).toBeDefined();
    expect(JSON.parse(upstream.since(mark)[0]!.body).To).toBe("ana@acme.example");
  });

  it.each([
    ["a full-width at sign", "bob\uff20acme.example"],
    ["two at signs", "bob@evil.example@acme.example"],
    ["an empty label", "bob@acme..example"],
    ["a right-to-left override", "bob@elpmaxe.emca\u202e"],
  ])("an address with %s is invalid, audited, and never sent", async (_name, email) => {
    const mark = upstream.received.length;
    const answer = await execute(SALES, contact(email));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: "invalid", errors: [{ path: "email", message: "is not a valid email address" }] });
    expect(upstream.since(mark)).toHaveLength(0);
    expect(records(answer.body.audit_id)).toMatchObject([{ decision: "invalid", status: "invalid" }]);
  });
});

describe("a path field", () => {
  it("is checked after its dot-segments are resolved", async () => {
    const escape = await execute(SUPPORT, { tool: "read_doc", input: { path: "/public/../private/keys" } });
    expect(escape.status).toBe(403);
    expect(records(escape.body.audit_id)[0]).toMatchObject({ decision: "deny", input: { path: "/private/keys" } });
    const mark = upstream.received.length;
    const inside = await execute(SUPPORT, { tool: "read_doc", input: { path: "/public/./guides//setup.md" } });
    expect(inside.status).toBe(200);
    expect(upstream.since(mark)[0]!.url).toBe(`/docs?path=${encodeURIComponent("/public/guides/setup.md")}`);
  });

  it.each([
    ["climbs above the root", "/public/../../etc/passwd"],
    ["hides a separator in percent-encoding", "/public/..%2F..%2Fprivate"],
    ["uses a backslash", "/public/..\\private"],
  ])("that %s is invalid", async (_name, path) => {
    const answer = await execute(SUPPORT, { tool: "read_doc", input: { path } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: "invalid", errors: [{ path: "path", message: "is not a valid path" }] });
    expect(records(answer.body.audit_id)).toMatchObject([{ decision: "invalid" }]);
  });
});
