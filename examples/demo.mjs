// `npm start`: the whole KeyRunner loop, offline, in under 30 seconds.
//  1. `keyrunner check` proves the example config sound, and catches an overlapping change.
//  2. `keyrunner build` compiles a demo config whose Stripe stands in on 127.0.0.1.
//  3. The bundle starts with the real key; an agent holding only its KeyRunner token then:
//     refunds (the key is injected), asks too much (denied, nothing sent), sends a bad input
//     (invalid), and tries to read the key back through an echoing endpoint (redacted).
//  4. `audit verify` checks the hash chain of everything that happened.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";
import { check, checkSources, renderHuman, renderSummary } from "../lib/compiler/index.js";

const root = join(import.meta.dirname, "..");
const bold = (t) => `\x1b[1m${t}\x1b[0m`;
const dim = (t) => `\x1b[2m${t}\x1b[0m`;
const step = (t) => console.log(`\n${bold(t)}`);
const started = Date.now();

step("1. keyrunner check: the example config (tools/, policies/) is sound");
const shipped = check({ dir: root });
console.log(`   ${renderSummary(shipped.diagnostics)}: ${shipped.analysis.config.tools.size} tools, ${shipped.analysis.config.rules.length} rules, ${shipped.analysis.pairsCompared} rule pairs proven disjoint`);
const files = ["tools", "policies"].flatMap((kind) =>
  ["refund_payment.yaml", "support_refunds.yaml"].filter((n) => (kind === "tools") === n.startsWith("refund")).map((name) => ({
    path: `${kind}/${name}`, kind: kind === "tools" ? "tool" : "policy", text: readFileSync(join(root, kind, name), "utf8"),
  })),
);
const exception = "policy: test_payments\ndeny:\n  - tool: refund_payment\n    when:\n      payment_id: { starts_with: pi_test_ }\n    reason: Test payments are refunded from the test dashboard.\n";
console.log(dim("   a teammate proposes a deny for test payments, layered on the allow:"));
const proposed = checkSources([...files, { path: "policies/test_payments.yaml", kind: "policy", text: exception }]);
console.log(renderHuman(proposed.diagnostics, proposed.sources).replace(/^/gm, "   "));

// A stand-in for api.stripe.com on 127.0.0.1: records what it receives; /v1/customers echoes headers back.
const received = [];
const upstream = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    received.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
    res.writeHead(200, { "content-type": "application/json" });
    if (req.url.startsWith("/v1/customers")) res.end(JSON.stringify({ id: "cus_42", debug_headers: req.headers }));
    else res.end(JSON.stringify({ id: "re_1", object: "refund", status: "succeeded", amount: JSON.parse(body || "{}").amount }));
  });
});
await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
const stripe = `http://127.0.0.1:${upstream.address().port}`;

step("2. keyrunner build: a demo config whose Stripe stands in at " + stripe);
const dir = mkdtempSync(join(tmpdir(), "keyrunner-demo-"));
mkdirSync(join(dir, "tools"));
mkdirSync(join(dir, "policies"));
writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", stripe));
writeFileSync(join(dir, "tools", "get_customer.yaml"), `tool: get_customer\ndescription: Look up a Stripe customer\ninput:\n  customer_id: string\nrun:\n  type: http\n  method: GET\n  url: ${stripe}/v1/customers/\${customer_id}\n  auth:\n    secret: STRIPE_API_KEY\n`);
writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
writeFileSync(join(dir, "policies", "customers.yaml"), "policy: customers\nagents: [support-agent]\nallow:\n  - tool: get_customer\n");
const built = await buildConfig({ dir }, join(dir, "dist"));
console.log(`   wrote dist/keyrunner.mjs (${Math.round(built.bundle.length / 1024)} KiB), dist/generated (${built.generated.files.size + 1} files), dist/manifest.json`);
console.log(dim(`   bundle sha256 ${built.manifest.bundle_sha256.slice(0, 16)}…, egress limited to ${built.manifest.egress_origins.join(", ")}`));

step("3. the bundle holds the key; the agent holds only its own token");
const key = `sk_test_${randomBytes(12).toString("hex")}`;
const token = `kr_${randomBytes(24).toString("base64url")}`;
writeFileSync(join(dir, "agents.yaml"), `agents:\n  support-agent: { token_sha256: ${createHash("sha256").update(token).digest("hex")} }\n`);
const audit = join(dir, "audit.jsonl");
const bundle = spawn(process.execPath, [join(dir, "dist", "keyrunner.mjs"), "serve", "--port", "0", "--audit", audit, "--agents", join(dir, "agents.yaml")], {
  env: { PATH: process.env.PATH, STRIPE_API_KEY: key },
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise((resolve) => bundle.stdout.on("data", (c) => { const m = /listening on (\S+)/.exec(String(c)); if (m) resolve(m[1]); }));
console.log(`   ${dim("node dist/keyrunner.mjs serve")} → ${url}   (STRIPE_API_KEY=${key.slice(0, 12)}… lives only here)`);

async function agent(label, request) {
  const before = received.length;
  const response = await fetch(`${url}/v1/execute`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(request) });
  const body = await response.json();
  console.log(`\n   ${bold(label)}`);
  console.log(`   agent → ${JSON.stringify(request)}`);
  console.log(`   agent ← ${response.status} ${JSON.stringify(body).slice(0, 220)}`);
  const got = received.slice(before);
  console.log(`   stripe stand-in received: ${got.length === 0 ? "nothing" : got.map((r) => `${r.method} ${r.url} with Authorization: ${r.authorization === `Bearer ${key}` ? "Bearer <the real key, injected>" : r.authorization}`).join("; ")}`);
  return body;
}

await agent("an allowed refund", { tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer was double charged" });
await agent("a refund over the limit: denied by policy, nothing executes", { tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 90000 }, reason: "big refund" });
await agent("an invalid input: rejected before policy", { tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: "all of it" }, reason: "r" });
const leak = await agent("an exfiltration attempt: an endpoint that echoes the request headers", { tool: "get_customer", input: { customer_id: "cus_42" } });
console.log(`   the key in the answer: ${JSON.stringify(leak).includes(key) ? "LEAKED" : "absent — authorization: " + JSON.stringify(leak.result?.debug_headers?.authorization)}`);

bundle.kill("SIGTERM");
await new Promise((r) => bundle.on("exit", r));
upstream.close();

step("4. keyrunner audit verify");
const lines = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l));
for (const r of lines) console.log(dim(`   #${r.seq} ${r.decision.padEnd(7)} ${r.tool.padEnd(15)} ${r.rule ?? ""} ${r.status ?? ""} prev=${r.prev.slice(0, 8)} hash=${r.hash.slice(0, 8)}`));
const verify = spawnSync(process.execPath, [join(dir, "dist", "keyrunner.mjs"), "audit", "verify", audit], { encoding: "utf8" });
process.stdout.write(`   ${verify.stdout}`);
console.log(`   the key in the audit: ${readFileSync(audit, "utf8").includes(key) ? "LEAKED" : "absent"}`);
console.log(dim(`\n   done in ${((Date.now() - started) / 1000).toFixed(1)} s; demo files in ${dir}`));
process.exitCode = verify.status === 0 && !JSON.stringify(leak).includes(key) ? 0 : 1;
