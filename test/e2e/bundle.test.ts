// The real bundle as a process, a real upstream on 127.0.0.1, real HTTP clients. Each test asserts
// what the upstream, the agent and the audit each received.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { eventually } from "../support/eventually.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const OTHER_SECRET = "hdr_secret_Zq81mK2pLx";
const METRICS_TOKEN = "kr_metrics_scraper_token_0001";
const SUPPORT_TOKEN = "kr_support_token_for_tests_0001";
const OPS_TOKEN = "kr_ops_token_for_tests_0002";

const upstream = new Upstream();
let bundlePath: string;
let server: RunningBundle;
let dir: string;
let auditFile: string;

const auth = (token = SUPPORT_TOKEN) => ({ authorization: `Bearer ${token}` });
const execute = (body: unknown, token = SUPPORT_TOKEN) => post(`${server.url}/v1/execute`, body, auth(token));
const auditRecords = () => readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
const recordsFor = (id: string) => auditRecords().filter((r) => r.id === id);

/** Every form of the secret a reader could decode. */
function secretForms(secret: string): string[] {
  const b = Buffer.from(secret);
  return [secret, b.toString("base64"), b.toString("base64url"), b.toString("hex"), encodeURIComponent(secret), Buffer.from(`x${secret}`).toString("base64").slice(2, -2), Buffer.from(`xy${secret}`).toString("base64").slice(3, -3), htmlReferences(secret)];
}

/** The secret as HTML numeric character references, which a browser or a model reads back as it. */
const htmlReferences = (secret: string) => [...secret].map((c) => `&#${c.codePointAt(0)};`).join("");
function expectNoSecret(text: string): void {
  for (const form of [...secretForms(SECRET), ...secretForms(OTHER_SECRET)]) expect(text).not.toContain(form);
}

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  upstream.routes.set("/echo", (req, res) => {
    // An upstream that reflects everything, in every encoding, split over several writes.
    const authz = String(req.headers.authorization ?? "");
    const body = JSON.stringify({
      headers: req.headers,
      body: req.body,
      base64_at_0: b64(authz),
      base64_at_1: b64(`x${authz}`),
      base64_at_2: b64(`xy${authz}`),
      basic: `Basic ${b64(`${SECRET}:`)}`,
      hex: Buffer.from(SECRET).toString("hex"),
      urlencoded: encodeURIComponent(`key=${SECRET}`),
      escaped: SECRET.split("").map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
      html: `<p>${htmlReferences(SECRET)}</p>`,
    }).replace('"escaped":"', '"escaped":"').replace(/"escaped":"(.*?)"/, (_m, v: string) => `"escaped":"${v.replace(/\\\\u/g, "\\u")}"`);
    res.writeHead(200, { "content-type": "application/json" });
    const half = Math.floor(body.length / 2);
    res.write(body.slice(0, half));
    setTimeout(() => res.end(body.slice(half)), 5);
  });
  upstream.routes.set("/gzip", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
    res.end(gzipSync(JSON.stringify({ leaked: SECRET })));
  });
  upstream.routes.set("/redirect", (_req, res) => {
    res.writeHead(302, { location: `http://169.254.169.254/latest/meta-data?key=${SECRET}` });
    res.end();
  });
  upstream.routes.set("/fail", (_req, res) => {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`internal error: key ${SECRET} rejected at /srv/app/index.js:12`);
  });
  upstream.routes.set("/slow", (_req, res) => void setTimeout(() => res.end("{}"), 1500));
  upstream.routes.set("/big", (_req, res) => res.end("x".repeat(5000)));
  upstream.routes.set("/drain", (_req, res) => void setTimeout(() => res.end('{"drained":true}'), 400));

  dir = writeConfig({
    ...seedConfig(origin),
    "tools/probes.yaml": [
      `tool: echo\ndescription: reflects the request\ninput:\n  text: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/echo\n  auth: { secret: STRIPE_API_KEY }\n  headers:\n    X-Other: \${secrets.OTHER_SECRET}\n  body:\n    text: \${text}\n`,
      `tool: get_customer\ndescription: path template\ninput:\n  id: string\n  expand: string?\nrun:\n  type: http\n  method: GET\n  url: ${origin}/v1/customers/\${id}?expand=\${expand}\n`,
      `tool: note_header\ndescription: header template\ninput:\n  note: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/notes\n  headers:\n    X-Note: \${note}\n`,
      `tool: fetch_gzip\ndescription: gzip body\nrun: { type: http, method: GET, url: "${origin}/gzip" }\n`,
      `tool: follow_redirect\ndescription: a 302\nrun: { type: http, method: GET, url: "${origin}/redirect" }\n`,
      `tool: failing\ndescription: upstream error with the secret inside\nrun: { type: http, method: GET, url: "${origin}/fail", auth: { secret: STRIPE_API_KEY } }\n`,
      `tool: slow\ndescription: times out\nrun: { type: http, method: GET, url: "${origin}/slow", timeout_ms: 300 }\n`,
      `tool: big\ndescription: too large\nrun: { type: http, method: GET, url: "${origin}/big", max_response_bytes: 100 }\n`,
      `tool: drain\ndescription: takes a while\nrun: { type: http, method: GET, url: "${origin}/drain" }\n`,
      `tool: run_probe\ndescription: exec with an argument\ninput:\n  arg: string\nrun:\n  type: exec\n  command: ["${process.execPath}", "-e", "console.log(JSON.stringify({argv: process.argv.slice(1), env: process.env}))", "\${arg}"]\n  env:\n    PROBE_TOKEN: \${secrets.OTHER_SECRET}\n`,
      `tool: ops_only\ndescription: only the ops agent sees this\nrun: { type: http, method: GET, url: "${origin}/ops" }\n`,
    ].join("---\n"),
    "policies/probes.yaml": `policy: probes\nagents: [support-agent]\nallow:\n${["echo", "get_customer", "note_header", "fetch_gzip", "follow_redirect", "failing", "slow", "big", "drain", "run_probe"].map((t) => `  - tool: ${t}\n`).join("")}`,
    "policies/ops.yaml": "policy: ops\nagents: [ops-agent]\nallow:\n  - tool: ops_only\n",
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(SUPPORT_TOKEN)} }\n  ops-agent:\n    token_sha256: ${sha256Hex(OPS_TOKEN)}\n`,
  });
  bundlePath = await buildBundle(dir);
  auditFile = join(dir, "audit.jsonl");
  server = await startBundle(bundlePath, ["--audit", auditFile, "--agents", join(dir, "agents.yaml"), "--metrics-token-sha256", sha256Hex(METRICS_TOKEN)], { STRIPE_API_KEY: SECRET, OTHER_SECRET });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("POST /v1/execute through the bundle", () => {
  it("an allowed refund reaches the upstream once, with exactly one Authorization header holding the secret", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("ok");
    const got = upstream.since(mark);
    expect(got).toHaveLength(1);
    expect(got[0]!.method).toBe("POST");
    expect(got[0]!.url).toBe("/v1/refunds");
    const authHeaders = got[0]!.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]!.toLowerCase() === "authorization");
    expect(authHeaders).toHaveLength(1);
    expect(got[0]!.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(JSON.parse(got[0]!.body)).toEqual({ payment_intent: "pi_123", amount: 2500 });
    const records = await eventually(() => recordsFor(res.body.audit_id), (found) => found.length >= 2);
    expect(records.map((r) => r.decision)).toEqual(["allow", "outcome"]);
    expect(records[0]).toMatchObject({ agent: "support-agent", tool: "refund_payment", rule: "policies/support_refunds.yaml#allow[0]", reason: "customer asked" });
    expect(records[1]).toMatchObject({ status: "ok", http_status: 200 });
  });

  it("a denial reaches nothing: zero upstream requests, a 403 naming no rule but what failed, a deny record", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 9000 }, reason: "big one" });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      status: "denied",
      reason: "no rule allows this request: amount_cents 9000 is above 5000 (policies/support_refunds.yaml#allow[0])",
      failed: [{ rule: "policies/support_refunds.yaml#allow[0]", failed: ["amount_cents 9000 is above 5000"] }],
      audit_id: res.body.audit_id,
    });
    expect(upstream.since(mark)).toHaveLength(0);
    expect(recordsFor(res.body.audit_id).map((r) => r.decision)).toEqual(["deny"]);
  });

  it("a missing reason where a rule requires one is a denial, and reaches nothing", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 100 } });
    expect(res.status).toBe(403);
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("invalid input is a 400 with paths and reaches nothing", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "refund_payment", input: { payment_id: 7, amount_cents: 100, extra: true }, reason: "r" });
    expect(res.status).toBe(400);
    expect(res.body.status).toBe("invalid");
    expect(res.body.errors).toEqual(expect.arrayContaining([{ path: "extra", message: "is not an input field of this tool" }, { path: "payment_id", message: "must be string" }]));
    expect(upstream.since(mark)).toHaveLength(0);
    expect(recordsFor(res.body.audit_id).map((r) => r.decision)).toEqual(["invalid"]);
  });

  it("an unknown tool and a tool the agent may not see get the same 404", async () => {
    const unknown = await execute({ tool: "drop_database", input: {} });
    const hidden = await execute({ tool: "ops_only", input: {} });
    expect(unknown.status).toBe(404);
    expect(hidden.status).toBe(404);
    expect({ ...unknown.body, audit_id: "" }).toEqual({ ...hidden.body, audit_id: "" });
    const ops = await execute({ tool: "ops_only", input: {} }, OPS_TOKEN);
    expect(ops.status).toBe(200);
  });

  it("401 for a missing, unknown or malformed token; nothing reaches the upstream", async () => {
    const mark = upstream.received.length;
    for (const headers of [{}, { authorization: "Bearer not-a-token" }, { authorization: `Basic ${SUPPORT_TOKEN}` }, { authorization: `Bearer ${SUPPORT_TOKEN}x` }]) {
      const res = await post(`${server.url}/v1/execute`, { tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" }, headers);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: "unauthorized", message: "unknown or missing agent token" });
    }
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("the agent named in the body cannot override the token's agent", async () => {
    const res = await execute({ agent: "ops-agent", tool: "ops_only", input: {} });
    expect(res.status).toBe(404);
  });

  it("malformed JSON is a 400 and a body over the limit a 413, without stack traces", async () => {
    const bad = await post(`${server.url}/v1/execute`, "{not json", auth());
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ status: "invalid", errors: [{ path: "(body)", message: "malformed JSON" }] });
    const big = await post(`${server.url}/v1/execute`, JSON.stringify({ tool: "echo", input: { text: "x".repeat(1024 * 1024 + 10) } }), auth());
    expect(big.status).toBe(413);
    expect(big.text).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it("prototype-pollution keys are unknown fields, not prototypes", async () => {
    const mark = upstream.received.length;
    const res = await post(`${server.url}/v1/execute`, '{"tool":"refund_payment","input":{"payment_id":"p","amount_cents":1,"__proto__":{"admin":true}},"reason":"r"}', auth());
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: "__proto__", message: "is not an input field of this tool" }]);
    expect(upstream.since(mark)).toHaveLength(0);
  });
});

describe("redaction", () => {
  it("an upstream that echoes the credential in every encoding, split across chunks, leaks nothing to the agent or the audit", async () => {
    const res = await execute({ tool: "echo", input: { text: "hello" } });
    expect(res.status).toBe(200);
    expectNoSecret(res.text);
    expect(res.text).toContain("[REDACTED]");
    expect(res.body.result.body).toBe('{"text":"hello"}');
    expectNoSecret(readFileSync(auditFile, "utf8"));
  });

  it("a gzip body is judged on what it decodes to", async () => {
    const res = await execute({ tool: "fetch_gzip", input: {} });
    expect(res.status).toBe(200);
    expect(res.body.result).toEqual({ leaked: "[REDACTED]" });
  });

  it("an upstream failure with the secret in its error body is a 502 carrying neither the secret nor the upstream's internals", async () => {
    const res = await execute({ tool: "failing", input: {} });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ status: "upstream_error", http_status: 500, message: "the upstream answered with an error", audit_id: res.body.audit_id });
    expectNoSecret(res.text);
  });

  it("a secret sent as a tool name or an input key is in no answer and no record (a 404 and a 400 that quote neither)", async () => {
    const unknown = await execute({ tool: SECRET, input: {} });
    expect(unknown.status).toBe(404);
    expectNoSecret(unknown.text);
    expect(recordsFor(unknown.body.audit_id)).toMatchObject([{ tool: "[REDACTED]", status: "unknown_tool" }]);
    const keyed = await execute({ tool: "echo", input: { [SECRET]: "x" } });
    expect(keyed.status).toBe(400);
    expect(keyed.body.errors.length).toBeGreaterThan(0);
    expectNoSecret(keyed.text);
    expectNoSecret(JSON.stringify(recordsFor(keyed.body.audit_id)));
    expectNoSecret(readFileSync(auditFile, "utf8"));
  });

  it("a secret the agent guessed is never sent (denied, whatever the policy) and is redacted from the audit too", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "echo", input: { text: `is it ${SECRET}?` } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ status: "denied", reason: "the input holds one of this gateway's own secrets, which it never sends", audit_id: res.body.audit_id });
    expect(upstream.since(mark)).toHaveLength(0);
    expectNoSecret(res.text);
    const records = recordsFor(res.body.audit_id);
    expect(records.map((r) => r.decision)).toEqual(["deny"]);
    expect(JSON.stringify(records)).toContain("is it [REDACTED]?");
    expectNoSecret(JSON.stringify(records));
  });
});

describe("templates", () => {
  it("a path value cannot escape its segment", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "get_customer", input: { id: "../admin?x=1#frag", expand: "a b&c=d" } });
    expect(res.status).toBe(200);
    expect(upstream.since(mark).map((r) => r.url)).toEqual(["/v1/customers/..%2Fadmin%3Fx%3D1%23frag?expand=a+b%26c%3Dd"]);
    for (const id of ["..", "."]) {
      const before = upstream.received.length;
      const dots = await execute({ tool: "get_customer", input: { id } });
      expect(dots.status).toBe(400);
      expect(dots.body.errors).toEqual([{ path: "id", message: "must not be . or .. in a URL path" }]);
      expect(upstream.since(before)).toHaveLength(0);
    }
    await execute({ tool: "get_customer", input: { id: "%2E%2E" } });
    expect(upstream.received.at(-1)!.url).toBe("/v1/customers/%252E%252E");
  });

  it("an empty path value is refused before anything is sent", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "get_customer", input: { id: "" } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: "id", message: "must not be empty in a URL path" }]);
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("CR/LF in a header value is refused, and nothing is sent", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "note_header", input: { note: "hi\r\nX-Injected: 1" } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: "X-Note", message: "must not contain control characters in a header" }]);
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("substitution is one pass: an input that spells a secret template stays literal text", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "echo", input: { text: "${secrets.STRIPE_API_KEY} ${secrets.OTHER_SECRET}" } });
    expect(res.status).toBe(200);
    expect(JSON.parse(upstream.since(mark)[0]!.body)).toEqual({ text: "${secrets.STRIPE_API_KEY} ${secrets.OTHER_SECRET}" });
  });
});

describe("egress", () => {
  it("a redirect is returned as data, not followed, and its Location is redacted", async () => {
    const mark = upstream.received.length;
    const res = await execute({ tool: "follow_redirect", input: {} });
    expect(res.status).toBe(200);
    expect(res.body.http_status).toBe(302);
    expect(res.body.result.location).toBe("http://169.254.169.254/latest/meta-data?key=[REDACTED]");
    expect(upstream.since(mark)).toHaveLength(1);
  });

  it("a slow upstream is a 504 after the tool's timeout", async () => {
    const started = Date.now();
    const res = await execute({ tool: "slow", input: {} });
    expect(res.status).toBe(504);
    expect(res.body.status).toBe("upstream_timeout");
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it("a response over max_response_bytes is a 502", async () => {
    const res = await execute({ tool: "big", input: {} });
    expect(res.status).toBe(502);
    expect(res.body.message).toBe("the upstream response is too large");
  });
});

describe("exec tools", () => {
  it("run argv without a shell, with an environment holding only what the tool declares", async () => {
    const res = await execute({ tool: "run_probe", input: { arg: "$(id); rm -rf / `x` > /tmp/y" } });
    expect(res.status).toBe(200);
    const printed = JSON.parse(res.body.result.stdout) as { argv: string[]; env: Record<string, string> };
    expect(printed.argv).toEqual(["$(id); rm -rf / `x` > /tmp/y"]);
    expect(Object.keys(printed.env).filter((k) => k !== "PROBE_TOKEN")).toEqual([]);
    expect(res.text).not.toContain(OTHER_SECRET);
    expect(printed.env.PROBE_TOKEN).toBe("[REDACTED]");
  });

  it("refuse a value that begins with '-' and start nothing", async () => {
    const res = await execute({ tool: "run_probe", input: { arg: "--inspect=0.0.0.0" } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: "arg", message: "must not begin with '-' in a command argument" }]);
  });
});

describe("other endpoints", () => {
  it("GET /v1/tools lists only the agent's tools, in the Anthropic or OpenAI shape", async () => {
    const anthropic = await fetch(`${server.url}/v1/tools`, { headers: auth() }).then((r) => r.json());
    const names = anthropic.tools.map((t: { name: string }) => t.name);
    expect(names).toContain("refund_payment");
    expect(names).not.toContain("ops_only");
    expect(anthropic.tools.find((t: { name: string }) => t.name === "refund_payment").input_schema.required).toEqual(["payment_id", "amount_cents"]);
    const openai = await fetch(`${server.url}/v1/tools?format=openai`, { headers: auth(OPS_TOKEN) }).then((r) => r.json());
    expect(openai.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["ops_only", "refund_payment"]);
  });

  it("/healthz, and /metrics only to the metrics token (an agent's token and no token get 404)", async () => {
    expect(await fetch(`${server.url}/healthz`).then((r) => r.json())).toEqual({ status: "ok" });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { headers: auth() })).status).toBe(404);
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/keyrunner_requests_total\{tool="refund_payment",outcome="denied"\} \d+/);
    expect(metrics).toMatch(/keyrunner_upstream_seconds_count\{tool="refund_payment"\} \d+/);
    // Only tools the config declares are labels: an unknown tool name counts as "(unknown)".
    await post(`${server.url}/v1/execute`, { tool: "no_such_tool_xyz", input: {} }, auth());
    const after = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }).then((r) => r.text());
    expect(after).not.toContain("no_such_tool_xyz");
    expect(after).toMatch(/tool="\(unknown\)",outcome="not_found"/);
  });

  it("/metrics on a separate --metrics-listen address, and not on the agents' port", async () => {
    const { createServer } = await import("node:net");
    const free = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    const separate = await startBundle(bundlePath, ["--audit", join(dir, "metrics-listen.jsonl"), "--agents", join(dir, "agents.yaml"), "--metrics-listen", `127.0.0.1:${free}`], { STRIPE_API_KEY: SECRET, OTHER_SECRET });
    try {
      expect((await fetch(`${separate.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);
      const text = await fetch(`http://127.0.0.1:${free}/metrics`).then((r) => r.text());
      expect(text).toContain("# TYPE keyrunner_requests_total counter");
      // Guarded like the main port: a web page's Origin or a rebound Host reads nothing.
      const { request } = await import("node:http");
      const status = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port: free, path: "/metrics", headers, setHost: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.end();
        });
      expect(await status({ host: `evil.example:${free}` })).toBe(403);
      expect(await status({ host: `127.0.0.1:${free}`, origin: "http://evil.example" })).toBe(403);
      expect(await status({ host: `127.0.0.1:${free}` })).toBe(200);
    } finally {
      await separate.stop();
    }
  });

  it("the audit chain verifies", async () => {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, [bundlePath, "audit", "verify", auditFile], { encoding: "utf8" });
    expect(result.stdout).toMatch(/^audit verified: \d+ records, chain intact\n$/);
    expect(result.status).toBe(0);
  });
});

describe("lifecycle", () => {
  it("refuses to start without every secret, naming the missing ones", async () => {
    await expect(startBundle(bundlePath, ["--audit", join(dir, "other.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET })).rejects.toThrow(
      /missing secrets: OTHER_SECRET/,
    );
  });

  it("a secrets file that cannot be read is named in the refusal", async () => {
    const missing = join(dir, "no-such-secrets.env");
    await expect(startBundle(bundlePath, ["--audit", join(dir, "other.jsonl"), "--secrets-file", missing], {})).rejects.toThrow(`cannot start: ${missing} does not exist (ENOENT)`);
  });

  // Each path an operator can get wrong is refused in one line that names it and says what it is: never
  // a stack trace, never a start that hangs (Node's recursive mkdir under /proc loops for ever), never a
  // server that starts knowing no agent.
  describe("a path that cannot serve is refused in one line naming it", () => {
    const refusal = async (args: string[], env: Record<string, string> = { STRIPE_API_KEY: SECRET, OTHER_SECRET }) => {
      const { spawnSync } = await import("node:child_process");
      const result = spawnSync(process.execPath, [bundlePath, "serve", "--port", "0", ...args], { encoding: "utf8", timeout: 10_000, env: { PATH: process.env.PATH ?? "", ...env } });
      return { status: result.status, signal: result.signal, lines: result.stderr.trim().split("\n").filter((l) => !l.includes("warning:")) };
    };
    const plainFile = () => {
      const path = join(dir, "a-plain-file");
      writeFileSync(path, "x");
      return path;
    };
    it.each([
      ["a secrets file that is a directory", () => ["--audit", join(dir, "s.jsonl"), "--secrets-file", dir], (d: string) => `keyrunner: cannot start: ${d} is a directory, not a file (EISDIR)`],
      ["an audit file under a plain file (once a stack trace)", () => ["--audit", join(plainFile(), "audit.jsonl")], () => `keyrunner: cannot start: cannot make the directory ${join(dir, "a-plain-file", "keyrunner-state")}: ${join(dir, "a-plain-file")} is not a directory (ENOTDIR)`],
      ["a state folder where no folder can be made (once a hang)", () => ["--audit", join(dir, "s.jsonl"), "--state", "/proc/kr-state"], () => "keyrunner: cannot start: cannot make the directory /proc/kr-state: this file system does not allow one there (ENOENT)"],
      ["an audit file that is a directory", () => ["--audit", dir], (d: string) => `keyrunner: cannot start: --audit ${d} is a directory; name a file, e.g. ${join(d, "audit.log")}`],
      ["an audit file that is a directory, without the permission model", () => ["--audit", dir, "--no-permission-model"], (d: string) => `keyrunner: cannot start: ${d} is a directory, not a file (EISDIR)`],
      ["an agents file that is a directory", () => ["--audit", join(dir, "s.jsonl"), "--agents", dir], (d: string) => `keyrunner: cannot read the agents file ${d}: it is a directory, not a file (EISDIR)`],
      ["an agents file with no agent", () => ["--audit", join(dir, "s.jsonl"), "--agents", "/dev/null"], () => "keyrunner: agents file /dev/null: names no agent, so every request would be refused; add one under `agents:` (`keyrunner token NAME` prints its line)"],
    ])("%s", async (_case, args, line) => {
      const result = await refusal(args());
      expect(result.signal).toBeNull();
      expect(result.lines).toEqual([line(dir)]);
      expect(result.status).toBe(1);
    });

    it("a port or a metrics address another process holds, saying so", async () => {
      const { createServer } = await import("node:net");
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
      const port = (holder.address() as { port: number }).port;
      try {
        const taken = await refusal(["--audit", join(dir, "s.jsonl"), "--agents", join(dir, "agents.yaml"), "--port", String(port)]);
        expect(taken.lines).toEqual([`keyrunner: cannot listen on 127.0.0.1:${port}: it is taken by another process (EADDRINUSE)`]);
        expect(taken.status).toBe(1);
        const metrics = await refusal(["--audit", join(dir, "s.jsonl"), "--agents", join(dir, "agents.yaml"), "--metrics-listen", `127.0.0.1:${port}`]);
        expect(metrics.lines).toEqual([`keyrunner: cannot listen for metrics on 127.0.0.1:${port}: it is taken by another process (EADDRINUSE)`]);
        expect(metrics.status).toBe(1);
      } finally {
        holder.close();
      }
    });
  });

  it("fails closed when the audit cannot be written: 503 unavailable (not a policy denial), and the upstream receives nothing", async () => {
    const full = await startBundle(bundlePath, ["--audit", "/dev/full", "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET, OTHER_SECRET });
    const mark = upstream.received.length;
    const res = await post(`${full.url}/v1/execute`, { tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" }, auth());
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: "unavailable", message: "the audit log cannot be written, so nothing is executed" });
    expect(upstream.since(mark)).toHaveLength(0);
    // The health check says so too (an orchestrator reading it would otherwise keep routing here).
    const health = await fetch(`${full.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", message: "the audit log cannot be written, so nothing is executed" });
    await full.stop();
  });

  it("without an agents file it trusts the body's agent on loopback, warns, and refuses other interfaces", async () => {
    const trusted = await startBundle(bundlePath, ["--audit", join(dir, "trusted.jsonl")], { STRIPE_API_KEY: SECRET, OTHER_SECRET });
    expect(trusted.stderr()).toContain("warning: no --agents file");
    const res = await post(`${trusted.url}/v1/execute`, { agent: "ops-agent", tool: "ops_only", input: {} });
    expect(res.status).toBe(200);
    await trusted.stop();
    await expect(startBundle(bundlePath, ["--host", "0.0.0.0", "--audit", join(dir, "t2.jsonl")], { STRIPE_API_KEY: SECRET, OTHER_SECRET })).rejects.toThrow(/loopback only/);
  });

  it("SIGTERM drains the request in flight and exits 0", async () => {
    const own = await startBundle(bundlePath, ["--audit", join(dir, "drain.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET, OTHER_SECRET });
    const pending = post(`${own.url}/v1/execute`, { tool: "drain", input: {} }, auth());
    await new Promise((r) => setTimeout(r, 100));
    own.process.kill("SIGTERM");
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.result).toEqual({ drained: true });
    expect(await own.exited).toBe(0);
  });

  it("runs under --disallow-code-generation-from-strings", async () => {
    const strict = await startBundle(bundlePath, ["--audit", join(dir, "strict.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET, OTHER_SECRET }, ["--disallow-code-generation-from-strings"]);
    const res = await post(`${strict.url}/v1/execute`, { tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: 10 }, reason: "r" }, auth());
    expect(res.status).toBe(200);
    await strict.stop();
  });
});

