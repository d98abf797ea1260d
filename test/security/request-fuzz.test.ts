// Random hostile requests against the real bundle process: request lines, targets, credentials, headers
// and bodies drawn from what breaks parsers (percent signs, brackets, absolute and authority forms,
// CONNECT, Basic credentials that do not decode, odd JSON). Whatever arrives, the answer is a clean HTTP
// error or success — never a 500, a stack trace or the secret — and the server is still serving after.

import fc from "fast-check";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const RUNS = Number(process.env.KR_REQUEST_FUZZ_RUNS ?? 300);
const SECRET = "sk_test_request_fuzz_0123";
const upstream = new Upstream();
let server: RunningBundle;
let port: number;

beforeAll(async () => {
  await upstream.start();
  const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: SECRET });
  port = Number(new URL(server.url).port);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

/** Sends one raw request on its own connection (which the request asks to close) and returns the answer. */
function exchange(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on("data", (c) => (answer += c.toString("latin1")));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on("error", () => undefined);
    socket.write(text, "latin1");
  });
}

const piece = fc.constantFrom("/", "//", "%", "%zz", "%2e%2e", "..", "[", "]", "::1", "@", "?", "#", "*", "v1", "execute", "approvals", "mcp", "tools", "metrics", "healthz", "http:", "https:", "api.stripe.com", "127.0.0.1", "\u00e9", "a=b&", "agent=a");
const target = fc.oneof(
  fc.array(piece, { maxLength: 8 }).map((parts) => parts.join("")),
  fc.array(piece, { maxLength: 6 }).map((parts) => `/${parts.join("")}`),
  fc.array(piece, { maxLength: 6 }).map((parts) => `http://${parts.join("")}`),
  fc.constantFrom("/v1/execute", "/v1/tools?agent=a", "/v1/approvals/%zz?agent=a", "http://api.stripe.com/v1/refunds", "api.stripe.com:443", "*"),
);
const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "HEAD", "PATCH");
const credential = fc.oneof(
  fc.tuple(fc.array(piece, { maxLength: 3 }), fc.array(piece, { maxLength: 3 })).map(([user, password]) => `Basic ${Buffer.from(`${user.join("")}:${password.join("")}`).toString("base64")}`),
  fc.constantFrom("Basic !!!", "Basic", "Bearer", `Bearer ${"x".repeat(300)}`, "Bearer kr_%zz", "Negotiate abc"),
);
const body = fc.oneof(
  fc.constant(""),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ agent: fc.oneof(fc.string(), fc.constant("a")), tool: fc.oneof(fc.string(), fc.constant("refund_payment")), input: fc.jsonValue({ maxDepth: 2 }), reason: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })) }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"agent":"a","tool":"refund_payment","input":{"__proto__":{"x":1},"payment_id":"p","amount_cents":1},"reason":"r"}', "{", "null", "[]", '"\\ud800"'),
);
const request = fc.record({
  method,
  target,
  body,
  credential: fc.option(credential, { nil: undefined }),
  authorization: fc.option(credential, { nil: undefined }),
  contentType: fc.option(fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"), { nil: undefined }),
});

describe("hostile request lines, headers and bodies", () => {
  it(`${RUNS} random requests: each a clean answer, and the server keeps serving`, async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const bodyBytes = Buffer.from(r.body, "utf8");
        const headers = [
          `Host: ${r.target.startsWith("http://") ? "api.stripe.com" : "127.0.0.1"}`,
          "Connection: close",
          ...(r.credential === undefined ? [] : [`Proxy-Authorization: ${r.credential}`]),
          ...(r.authorization === undefined ? [] : [`Authorization: ${r.authorization}`]),
          ...(r.contentType === undefined ? [] : [`Content-Type: ${r.contentType}`]),
          `Content-Length: ${bodyBytes.length}`,
        ];
        const answer = await exchange(`${r.method} ${r.target} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n${r.body}`);
        expect(answer).toMatch(/^HTTP\/1\.1 [1-5]\d\d /);
        expect(answer).not.toMatch(/^HTTP\/1\.1 500 /);
        expect(answer).not.toMatch(/node:internal|at \w+ \(|TypeError|URIError|RangeError/);
        expect(answer).not.toContain(SECRET);
      }),
      { numRuns: RUNS },
    );
    const alive = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(alive.status).toBe(200);
    expect(server.stderr()).not.toMatch(/internal error/);
  }, 120_000);
});
