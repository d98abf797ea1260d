// Unmodified HTTPS clients through the bundle's CONNECT interception (serve --ca), each configured only by
// the environment `keyrunner proxy-env` prints (or a proxy agent reading it) and holding a placeholder key:
// curl, the stripe SDK over its default https, @octokit/rest, the openai SDK, undici fetch, Python
// requests and httpx. Each allowed call reaches the upstream once with the real credential, each denied
// one reaches nothing and the client raises a readable error, and the upstream's echo of the key is redacted.

import { execFile, execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GITHUB_KEY, OPENAI_KEY, STRIPE_KEY, startHttpsWorld, type HttpsWorld } from "../support/https-world.js";
import { keyrunner } from "../support/cli.js";

let world: HttpsWorld;

beforeAll(async () => {
  world = await startHttpsWorld();
}, 90_000);

afterAll(async () => {
  await world?.stop();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A program run with only PATH, HOME and the proxy environment. */
async function run(file: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
  return promisify(execFile)(file, args, { cwd: world.dir, env: { PATH: process.env.PATH ?? "", HOME: world.dir, ...world.env, ...extraEnv }, timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** A Node script in the config folder (its imports resolve to this repository's node_modules). */
async function node(name: string, source: string): Promise<Array<Record<string, any>>> {
  const file = join(world.dir, name);
  writeFileSync(file, source);
  const ran = await run(process.execPath, [file]);
  expect(ran.code, ran.stderr).toBe(0);
  return ran.stdout.trim().split("\n").map((l) => JSON.parse(l));
}

const refundsSince = (mark: number) => world.upstream.since(mark).filter((r) => r.url === "/v1/refunds");
const base = () => `https://localhost:${world.upstream.port}`;

describe("the environment `keyrunner proxy-env` prints", () => {
  it("names the proxy, the CA alone for Node, a combined bundle for the others, and the fetch preload", () => {
    expect(world.env.HTTPS_PROXY).toBe(world.proxy);
    expect(world.env.HTTP_PROXY).toBe(world.proxy);
    expect(world.env.NO_PROXY).toBe(world.proxyHost);
    expect(world.env.NODE_EXTRA_CA_CERTS).toBe(join(world.caDir, "ca.pem"));
    for (const name of ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"]) expect(world.env[name]).toBe(join(world.caDir, "trust-bundle.pem"));
    expect(world.env.NODE_OPTIONS).toMatch(/^--import "file:\/\/.*\/bin\/proxy-preload\.mjs"$/);
    // the combined bundle holds the system's roots and then the CA
    const bundle = execFileSync("grep", ["-c", "BEGIN CERTIFICATE", world.env.SSL_CERT_FILE!]).toString().trim();
    expect(Number(bundle)).toBeGreaterThan(10);
  });

  it("refuses a proxy URL without the agent's credential, and a CA folder without a CA", async () => {
    const noAgent = await keyrunner(["proxy-env", "--proxy", "http://127.0.0.1:8787", "--ca", world.caDir]);
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr).toContain("--proxy needs the agent's name and token");
    const noCa = await keyrunner(["proxy-env", "--proxy", world.proxy, "--ca", join(world.dir, "nowhere")]);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toContain("make a CA with `keyrunner ca init");
  });
});

describe("curl with HTTPS_PROXY and CURL_CA_BUNDLE", () => {
  it("an allowed refund reaches the upstream once with the real key; the echoed key is redacted", async () => {
    const mark = world.upstream.received.length;
    const ran = await run("curl", ["-s", "-S", "--fail-with-body", `${base()}/v1/refunds`, "-H", "Authorization: Bearer sk_test_placeholder", "-d", "payment_intent=pi_1", "-d", "amount=2500"]);
    expect(ran.code, ran.stderr).toBe(0);
    const body = JSON.parse(ran.stdout);
    expect(body).toMatchObject({ id: "re_123", amount: 2500, seen_authorization: "Bearer [REDACTED]" });
    const got = refundsSince(mark);
    expect(got).toHaveLength(1);
    expect(got[0]!.headers.authorization).toBe(`Bearer ${STRIPE_KEY}`);
    expect(got[0]!.body).toBe("payment_intent=pi_1&amount=2500");
  });

  it("a denied refund reaches nothing; curl fails with KeyRunner's reason", async () => {
    const mark = world.upstream.received.length;
    const ran = await run("curl", ["-s", "-S", "--fail-with-body", `${base()}/v1/refunds`, "-d", "payment_intent=pi_1", "-d", "amount=9000"]);
    expect(ran.code).toBe(22);
    expect(JSON.parse(ran.stdout)).toMatchObject({ error: { type: "permission_denied" }, message: "denied by KeyRunner: no rule allows this request: amount_cents 9000 is above 5000 (policies/agents.yaml#allow[0])" });
    expect(world.upstream.since(mark)).toHaveLength(0);
  });

  it("a destination no tool declares is refused at CONNECT: curl reports it, nothing is tunnelled", async () => {
    const connections = world.upstream.connections;
    const ran = await run("curl", ["-s", "-S", "https://example.com/v1/refunds", "-d", "amount=1"]);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toMatch(/CONNECT tunnel failed, response 403|Received HTTP code 403 from proxy after CONNECT/);
    expect(world.upstream.connections).toBe(connections);
  });
});

describe("the stripe SDK over its default https, with https-proxy-agent reading HTTPS_PROXY", () => {
  it("an allowed refund executes with the real key; a denied one throws StripePermissionError and reaches nothing", async () => {
    const mark = world.upstream.received.length;
    const results = await node(
      "stripe-agent.mjs",
      `import Stripe from "stripe";
import { HttpsProxyAgent } from "https-proxy-agent";
const stripe = new Stripe("sk_test_placeholder", { host: "localhost", port: ${world.upstream.port}, httpAgent: new HttpsProxyAgent(process.env.HTTPS_PROXY), maxNetworkRetries: 0 });
const refund = await stripe.refunds.create({ payment_intent: "pi_123", amount: 2500 });
console.log(JSON.stringify({ ok: true, amount: refund.amount, seen: refund.seen_authorization }));
try { await stripe.refunds.create({ payment_intent: "pi_123", amount: 9000 }); console.log(JSON.stringify({ ok: true })); }
catch (error) { console.log(JSON.stringify({ ok: false, type: error.type, message: error.message })); }
`,
    );
    expect(results).toEqual([
      { ok: true, amount: 2500, seen: "Bearer [REDACTED]" },
      { ok: false, type: "StripePermissionError", message: "denied by KeyRunner: no rule allows this request: amount_cents 9000 is above 5000 (policies/agents.yaml#allow[0])" },
    ]);
    const got = refundsSince(mark);
    expect(got.map((r) => [r.body, r.headers.authorization])).toEqual([["payment_intent=pi_123&amount=2500", `Bearer ${STRIPE_KEY}`]]);
  });
});

describe("SDKs on Node's global fetch, with the environment alone (the preload installs EnvHttpProxyAgent)", () => {
  it("@octokit/rest: an allowed issue reaches the upstream with the real token; another owner throws 403", async () => {
    const mark = world.upstream.received.length;
    const results = await node(
      "octokit-agent.mjs",
      `import { Octokit } from "@octokit/rest";
const octokit = new Octokit({ auth: "ghp_placeholder", baseUrl: "${base()}" });
const created = await octokit.rest.issues.create({ owner: "acme", repo: "docs", title: "Broken link", body: "Page 2." });
console.log(JSON.stringify({ status: created.status, number: created.data.number, seen: created.data.seen_authorization }));
try { await octokit.rest.issues.create({ owner: "evil", repo: "docs", title: "x", body: "y" }); console.log("{}"); }
catch (error) { console.log(JSON.stringify({ status: error.status, message: error.message })); }
`,
    );
    expect(results[0]).toEqual({ status: 201, number: 7, seen: "Bearer [REDACTED]" });
    expect(results[1]).toMatchObject({ status: 403 });
    expect(results[1]!.message).toContain("denied by KeyRunner");
    const got = world.upstream.since(mark);
    expect(got.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([["POST", "/repos/acme/docs/issues", `Bearer ${GITHUB_KEY}`]]);
  });

  it("the openai SDK: an allowed moderation executes with the real key; another model is a PermissionDeniedError", async () => {
    const mark = world.upstream.received.length;
    const results = await node(
      "openai-agent.mjs",
      `import OpenAI from "openai";
const openai = new OpenAI({ apiKey: "sk-placeholder", baseURL: "${base()}/v1", maxRetries: 0 });
const moderated = await openai.moderations.create({ model: "omni-moderation-latest", input: "hello" });
console.log(JSON.stringify({ id: moderated.id, seen: moderated.seen_authorization }));
try { await openai.moderations.create({ model: "text-moderation-stable", input: "hello" }); console.log("{}"); }
catch (error) { console.log(JSON.stringify({ name: error.constructor.name, status: error.status, message: error.message })); }
`,
    );
    expect(results[0]).toEqual({ id: "modr-1", seen: "Bearer [REDACTED]" });
    expect(results[1]).toMatchObject({ name: "PermissionDeniedError", status: 403 });
    expect(results[1]!.message).toContain("denied by KeyRunner");
    const got = world.upstream.since(mark);
    expect(got.map((r) => [r.url, r.headers.authorization])).toEqual([["/v1/moderations", `Bearer ${OPENAI_KEY}`]]);
  });

  it("undici's fetch (Node's global fetch): allowed and denied", async () => {
    const mark = world.upstream.received.length;
    const results = await node(
      "fetch-agent.mjs",
      `for (const amount of [100, 9000]) {
  const response = await fetch("${base()}/v1/refunds", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Bearer sk_test_placeholder" }, body: "payment_intent=pi_f&amount=" + amount });
  console.log(JSON.stringify({ status: response.status, body: await response.json() }));
}
`,
    );
    expect(results[0]).toMatchObject({ status: 200, body: { amount: 100, seen_authorization: "Bearer [REDACTED]" } });
    expect(results[1]).toMatchObject({ status: 403, body: { error: { type: "permission_denied" } } });
    expect(refundsSince(mark).map((r) => r.headers.authorization)).toEqual([`Bearer ${STRIPE_KEY}`]);
  });

  it("without the preload, Node 20's fetch ignores the proxy variables (why proxy-env ships it)", async () => {
    const file = join(world.dir, "fetch-direct.mjs");
    writeFileSync(file, `try { await fetch("https://api.stripe.com/v1/refunds", { method: "POST", signal: AbortSignal.timeout(5000) }); console.log("reached"); } catch (error) { console.log(error.cause?.code ?? error.name); }\n`);
    const ran = await run(process.execPath, [file], { NODE_OPTIONS: "" });
    // It went for the network itself (no route, no DNS here) instead of asking the proxy.
    expect(ran.stdout.trim()).not.toBe("reached");
  });
});

describe("Python requests and httpx in a venv, with the environment alone", () => {
  const venv = () => join(world.dir, "venv");
  const python = () => join(venv(), "bin", "python");
  const hasPython = existsSync("/usr/bin/python3");

  beforeAll(() => {
    if (!hasPython) return;
    execFileSync("/usr/bin/python3", ["-m", "venv", "--system-site-packages", venv()], { stdio: "pipe" });
  });

  for (const library of ["requests", "httpx"] as const) {
    it(`${library}: an allowed refund with the real key, a denied one raises and reaches nothing`, async (test) => {
      if (!hasPython) {
        console.log("skipped: /usr/bin/python3 is missing (apt-get install python3-venv python3-requests python3-httpx)");
        return test.skip();
      }
      const probe = await run(python(), ["-c", `import ${library}`]);
      if (probe.code !== 0) {
        console.log(`skipped: Python has no ${library} (apt-get install python3-${library})`);
        return test.skip();
      }
      const script = join(world.dir, `${library}-agent.py`);
      writeFileSync(
        script,
        `import json, ${library}
for amount in (300, 9000):
    try:
        r = ${library}.post("${base()}/v1/refunds", data={"payment_intent": "pi_py", "amount": str(amount)}, headers={"Authorization": "Bearer sk_test_placeholder"})
        r.raise_for_status()
        print(json.dumps({"ok": True, "body": r.json()}))
    except ${library === "requests" ? "requests.HTTPError" : "httpx.HTTPStatusError"} as error:
        print(json.dumps({"ok": False, "status": error.response.status_code, "message": error.response.json()["message"]}))
`,
      );
      const mark = world.upstream.received.length;
      const ran = await run(python(), [script]);
      expect(ran.code, ran.stderr).toBe(0);
      const [allowed, denied] = ran.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(allowed).toMatchObject({ ok: true, body: { amount: 300, seen_authorization: "Bearer [REDACTED]" } });
      expect(denied).toEqual({ ok: false, status: 403, message: "denied by KeyRunner: no rule allows this request: amount_cents 9000 is above 5000 (policies/agents.yaml#allow[0])" });
      expect(refundsSince(mark).map((r) => [r.body, r.headers.authorization])).toEqual([["payment_intent=pi_py&amount=300", `Bearer ${STRIPE_KEY}`]]);
    });
  }
});

describe("afterwards", () => {
  it("the audit holds every call, no real key and no CA key, and `keyrunner audit verify` passes", async () => {
    const text = world.audit().map((r) => JSON.stringify(r)).join("\n");
    for (const secret of [STRIPE_KEY, GITHUB_KEY, OPENAI_KEY]) expect(text).not.toContain(secret);
    const caKey = (await import("node:fs")).readFileSync(join(world.caDir, "ca-key.pem"), "utf8").split("\n")[1]!;
    for (const seen of [text, world.server.stdout(), world.server.stderr()]) expect(seen).not.toContain(caKey.slice(0, 40));
    expect(world.audit().filter((r) => r.tool === "create_refund" && r.decision === "allow").length).toBeGreaterThanOrEqual(5);
    const verified = await keyrunner(["audit", "verify", join(world.dir, "audit.jsonl")]);
    expect(verified.stdout, verified.stderr).toMatch(/^audit verified: \d+ records, chain intact/);
  });
});
