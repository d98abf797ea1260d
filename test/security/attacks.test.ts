// Attacks on the real bundle process. A stub DNS resolver is preloaded into it (stub-dns.mjs), so a
// tool's host can resolve to any internal address — and to 127.0.0.1, where the test upstream listens,
// so a request that slipped through would be seen arriving.

import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_attack_suite_01234";
const INTERNAL: Record<string, string> = {
  "loopback4.test": "127.0.0.1",
  "loopback-other.test": "127.1.2.3",
  "loopback6.test": "::1",
  "mapped.test": "::ffff:127.0.0.1",
  "mapped-hex.test": "::ffff:7f00:1",
  "compatible.test": "::127.0.0.1",
  "nat64-metadata.test": "64:ff9b::a9fe:a9fe",
  "sixtofour.test": "2002:7f00:1::1",
  "private10.test": "10.0.0.7",
  "private172.test": "172.16.5.4",
  "private192.test": "192.168.1.10",
  "cgnat.test": "100.64.0.1",
  "metadata.test": "169.254.169.254",
  "metadata6.test": "fd00:ec2::254",
  "linklocal.test": "169.254.10.10",
  "unspecified.test": "0.0.0.0",
  "ula.test": "fd12:3456::1",
};
const upstream = new Upstream();
let server: RunningBundle;
let dir: string;
let bundle: string;

beforeAll(async () => {
  await upstream.start();
  const names = Object.keys(INTERNAL);
  const dns = Object.fromEntries(names.map((name) => [name, [INTERNAL[name]!]]));
  dir = writeConfig({
    ...seedConfig(`http://127.0.0.1:${upstream.port}`),
    "tools/internal.yaml": names.map((name) => `tool: to_${name.replace(/[.-]/g, "_")}\ndescription: reaches ${name}\nrun: { type: http, method: GET, url: "https://${name}:${upstream.port}/internal" }\n`).join("---\n"),
    "policies/internal.yaml": `policy: internal\nallow:\n${names.map((n) => `  - tool: to_${n.replace(/[.-]/g, "_")}\n`).join("")}`,
  });
  bundle = await buildBundle(dir);
  server = await startBundle(bundle, ["--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: SECRET, KR_STUB_DNS: JSON.stringify(dns) }, ["--import", join(import.meta.dirname, "stub-dns.mjs")]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("DNS answers pointing inside", () => {
  it.each(Object.entries(INTERNAL))("a host resolving to %s (%s) is refused, and nothing connects", async (name) => {
    const mark = upstream.received.length;
    const connections = upstream.connections;
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: `to_${name.replace(/[.-]/g, "_")}`, input: {} });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ status: "upstream_error", message: "the upstream address is not allowed" });
    expect(upstream.since(mark)).toHaveLength(0);
    expect(upstream.connections).toBe(connections);
  });

  it("CONNECT to any encoding of an internal address is refused and audited", async () => {
    for (const target of ["127.0.0.1:443", "2130706433:443", "0x7f.0.0.1:443", "[::ffff:127.0.0.1]:443", "169.254.169.254:80", "[fd00:ec2::254]:80", "100.64.0.1:443"]) {
      const answer = await rawRequest(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      expect(answer, target).toMatch(/^HTTP\/1\.1 403 /);
    }
    const audited = readFileSync(join(dir, "audit.jsonl"), "utf8").split("\n").filter((l) => l.includes('"connect_refused"'));
    expect(audited.length).toBeGreaterThanOrEqual(7);
  });
});

describe("malformed and hostile HTTP", () => {
  it("oversized headers are refused with 431", async () => {
    const answer = await rawRequest(`POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });

  it("conflicting Content-Length and Transfer-Encoding are refused, and nothing is executed", async () => {
    const mark = upstream.received.length;
    const body = JSON.stringify({ agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    const answer = await rawRequest(`POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it.each([
    ["a 1 MB name", "a".repeat(1_000_000)],
    ["a name of 65 characters", "a".repeat(65)],
    ["a newline", "support-agent\nforged: line"],
    ["a leading dot", ".hidden"],
    ["a space", "support agent"],
  ])("without an agents file, a claimed agent name with %s is a clean 400 and nothing runs or is written", async (_name, agent) => {
    const mark = upstream.received.length;
    const before = readFileSync(join(dir, "audit.jsonl"), "utf8").length;
    const res = await post(`${server.url}/v1/execute`, { agent, tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: "invalid", errors: [{ path: "agent", message: "must be an agent name: a letter or digit, then letters, digits, _, . or -, at most 64 characters" }] });
    expect(upstream.since(mark)).toHaveLength(0);
    expect(readFileSync(join(dir, "audit.jsonl"), "utf8").length).toBe(before);
    // The same name in a forward-proxy credential is no credential at all.
    const proxied = await rawRequest(`GET http://127.0.0.1:${upstream.port}/x HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nProxy-Authorization: Basic ${Buffer.from(`${agent.slice(0, 100)}:x`).toString("base64")}\r\nConnection: close\r\n\r\n`);
    expect(proxied).toMatch(/^HTTP\/1\.1 407 /);
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("malformed bytes after a request that executes (pipelined, or after Connection: close) do not cost its answer", async () => {
    // A slow upstream: the malformed bytes are parsed while the refund is still executing.
    upstream.routes.set("/v1/refunds", (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"id":"re_slow","status":"succeeded"}');
      }, 300);
    });
    try {
      for (const connection of ["close", "keep-alive"]) {
        const mark = upstream.received.length;
        const body = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_garbage_${connection}`, amount_cents: 100 }, reason: "r" });
        const request = `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: ${connection}\r\n\r\n${body}`;
        const answer = await rawRequest(`${request}NOT HTTP AT ALL\x01\r\n\r\n`, undefined, 1500);
        expect([...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]), connection).toEqual(["200"]);
        const json = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n/, "").split("\r\n")[0]!);
        expect(json).toMatchObject({ status: "ok", result: { id: "re_slow" }, audit_id: expect.any(String) });
        expect(upstream.since(mark)).toHaveLength(1);
      }
      // With nothing in flight, the malformed request is still a plain 400 and the connection closes.
      expect(await rawRequest("NOT HTTP AT ALL\x01\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    } finally {
      upstream.routes.delete("/v1/refunds");
    }
  });

  it("requests pipelined on one connection take turns: a few execute at once, all are answered in order", async () => {
    // A hostile agent writes 300 requests at once on one socket. Without turns all 300 decide and queue
    // at the upstream together (the pool's 256 connections), and 30,000 were 360 MB of server memory.
    let running = 0;
    let mostRunning = 0;
    upstream.routes.set("/v1/refunds", (request, res) => {
      running++;
      mostRunning = Math.max(mostRunning, running);
      setTimeout(() => {
        running--;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: `re_${(JSON.parse(request.body) as { payment_intent: string }).payment_intent}`, status: "succeeded" }));
      }, 20);
    });
    try {
      const n = 300;
      const mark = upstream.received.length;
      const one = (i: number) => {
        const body = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_turn_${i}`, amount_cents: 100 }, reason: "r" });
        return `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      };
      const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
      let answers = "";
      socket.on("data", (c: Buffer) => (answers += c.toString()));
      socket.write(Array.from({ length: n }, (_, i) => one(i)).join(""));
      const deadline = Date.now() + 30_000;
      while ((answers.match(/HTTP\/1\.1 /g) ?? []).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      expect([...answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])).toEqual(Array(n).fill("200"));
      expect([...answers.matchAll(/"id":"re_pi_turn_(\d+)"/g)].map((m) => Number(m[1]))).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(upstream.since(mark)).toHaveLength(n);
      expect(mostRunning).toBeGreaterThan(1);
      expect(mostRunning).toBeLessThanOrEqual(8);
    } finally {
      upstream.routes.delete("/v1/refunds");
    }
  }, 60_000);

  it("requests followed by the client's half-close are all answered, then the connection closes; a bare half-close closes it at once", async () => {
    // `printf '…' | nc` or `socket.end(requests)`: the client ends its side after sending. Node's default
    // ended the server's side too when it read that end, so the running request — its upstream called —
    // was never answered (3 executed, 0 answers).
    const mark = upstream.received.length;
    const one = (i: number) => {
      const body = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_half_${i}`, amount_cents: 100 }, reason: "r" });
      return `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    const exchange = async (text: string) => {
      const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
      let answers = "";
      socket.on("data", (c: Buffer) => (answers += c.toString()));
      const closed = new Promise<boolean>((resolve) => socket.on("close", () => resolve(true)));
      socket.end(text);
      const inTime = await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      socket.destroy();
      return { inTime, answers };
    };
    const sent = await exchange([0, 1, 2].map(one).join(""));
    expect(sent.inTime).toBe(true);
    expect([...sent.answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])).toEqual(["200", "200", "200"]);
    expect([...sent.answers.matchAll(/"audit_id":"[0-9a-f-]{36}"/g)]).toHaveLength(3);
    expect(upstream.since(mark)).toHaveLength(3);
    const bare = await exchange("");
    expect(bare).toEqual({ inTime: true, answers: "" });
  }, 30_000);

  it("a deeply nested input is a clean 400 and is cut in the audit", async () => {
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    const res = await post(`${server.url}/v1/execute`, `{"agent":"a","tool":"refund_payment","input":{"payment_id":${deep},"amount_cents":1},"reason":"r"}`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: "payment_id", message: "must be string" }]);
    expect(readFileSync(join(dir, "audit.jsonl"), "utf8")).toContain("[TOO DEEP]");
  });

  it.each([["GET //[ HTTP/1.1"], ["GET http://[::1 HTTP/1.1"], ["POST /v1/%zz HTTP/1.1"], ["GET /v1/approvals/%zz?agent=a HTTP/1.1"]])("a request target that does not parse or decode (%s) is a clean 4xx, and the server keeps serving", async (line) => {
    const answer = await rawRequest(`${line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 (400|404|407) /);
    expect(answer).not.toMatch(/at \w+ \(|node:internal|TypeError/);
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
  });

  it.each([["CONNECT api.stripe.com:443"], ["GET http://api.stripe.com/v1/refunds"]])("%s with a Basic proxy password that does not decode is refused, and the server keeps serving", async (line) => {
    const credential = Buffer.from("agent:%zz").toString("base64");
    const answer = await rawRequest(`${line} HTTP/1.1\r\nHost: api.stripe.com\r\nProxy-Authorization: Basic ${credential}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 (403|407) /);
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
  });

  it("a client without a proxy token cannot grow the audit without bound: its refusals are recorded at a bounded rate", async () => {
    const audit = join(dir, "audit.jsonl");
    const count = () => readFileSync(audit, "utf8").split("\n").filter((l) => l.includes('"agent":"(unauthenticated)"')).length;
    const before = count();
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 30 }, () => rawRequest(`GET http://api.stripe.com/${"A".repeat(1000)} HTTP/1.1\r\nHost: api.stripe.com\r\nConnection: close\r\n\r\n`)));
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 407 /);
    }
    const seconds = (Date.now() - started) / 1000;
    const written = count() - before;
    expect(written).toBeGreaterThan(0);
    // 20 a second, and as many at once: 300 refusals write far fewer records.
    expect(written).toBeLessThanOrEqual(20 + Math.ceil(seconds * 20));
    expect(written).toBeLessThan(300);
  });

  it("a slow client holding a half-sent request does not block others", async () => {
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    socket.write("POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{");
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
    socket.destroy();
  });
});

describe("configurable limits", () => {
  it("--header-limit, --body-limit and --request-timeout are enforced as set, and nothing reaches the upstream", async () => {
    const limited = await startBundle(bundle, ["--audit", join(dir, "limits.jsonl"), "--header-limit", "2048", "--body-limit", "4096", "--request-timeout", "800"], { STRIPE_API_KEY: SECRET });
    const port = Number(new URL(limited.url).port);
    const mark = upstream.received.length;
    try {
      const request = (extraHeader: string, body: string) => `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\n${extraHeader}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const small = JSON.stringify({ agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
      expect(await rawRequest(request(`X-Pad: ${"a".repeat(2500)}\r\n`, small), port)).toMatch(/^HTTP\/1\.1 431 /);
      expect(await rawRequest(request(`X-Pad: ${"a".repeat(1200)}\r\n`, small), port)).toMatch(/^HTTP\/1\.1 200 /);
      const big = JSON.stringify({ agent: "a", tool: "refund_payment", input: { payment_id: "p".repeat(5000), amount_cents: 1 }, reason: "r" });
      expect(await rawRequest(request("", big), port)).toMatch(/^HTTP\/1\.1 413 /);
      // A client that sends part of its body and stalls is answered 408 and cut off once the timeout passes.
      const started = Date.now();
      const stalled = await rawRequest(`POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"agent":`, port, 5000);
      expect(stalled).toMatch(/^HTTP\/1\.1 408 /);
      expect(Date.now() - started).toBeLessThan(4000);
      // Only the one request within the limits reached the upstream.
      expect(upstream.since(mark)).toHaveLength(1);
    } finally {
      await limited.stop();
    }
  });

  it.each([
    ["--body-limit", "abc", /--body-limit \(bytes\) must be a whole number from 1 to \d+, not "abc"/],
    ["--request-timeout", "0", /--request-timeout \(milliseconds\) must be a whole number from 100/],
    ["--header-limit", "1e9", /--header-limit \(bytes\) must be a whole number/],
    ["--port", "70000", /--port \(port\) must be a whole number from 0 to 65535/],
    ["--audit-commit-delay=-1", undefined, /--audit-commit-delay \(milliseconds\) must be a whole number from 0 to 100, not "-1"/],
    ["--audit-commit-delay", "-1", /Option '--audit-commit-delay' argument is ambiguous\. Did you forget to specify the option argument for '--audit-commit-delay'\?/],
    ["--prot", "8080", /Unknown option '--prot'/],
  ])("%s %s is refused at start, naming the flag (and the range)", async (flag, value, message) => {
    await expect(startBundle(bundle, ["--audit", join(dir, "bad-flag.jsonl"), flag, ...(value === undefined ? [] : [value])], { STRIPE_API_KEY: SECRET })).rejects.toThrow(message);
  });
});

describe("tokens", () => {
  it("an agents file in which two principals share a token is refused at start", async () => {
    const agents = join(dir, "dup-agents.yaml");
    const digest = sha256Hex("kr_shared_token_000000001");
    (await import("node:fs")).writeFileSync(agents, `agents:\n  a: { token_sha256: ${digest} }\n  b: { token_sha256: ${digest} }\n`);
    await expect(startBundle(bundle, ["--audit", join(dir, "dup.jsonl"), "--agents", agents], { STRIPE_API_KEY: SECRET })).rejects.toThrow(/a and b have the same token_sha256/);
  });
});

/** Sends raw bytes and collects the answer until the server closes, or `waitMs` passes. */
function rawRequest(text: string, port = Number(new URL(server.url).port), waitMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (c) => (answer += c.toString()));
    socket.on("close", () => resolve(answer));
    socket.on("error", () => resolve(answer));
    socket.write(text);
    setTimeout(() => socket.end(), waitMs);
  });
}
