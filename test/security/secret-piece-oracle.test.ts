// An agent that knows the first 11 bytes of a secret (a public prefix: `sk_live_51…`, `github_pat_11`)
// tries each next byte, raw or as hex. If the right guess were refused ("the input holds one of this
// gateway's own secrets") or came back redacted from an upstream that echoes the input, the secret would
// come out a byte at a time (~1,150 requests in 2 s against the bundle before this test). The real bundle,
// a real echoing upstream: a right and a wrong guess get the same answer, and both are executed.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";
import { keyrunner } from "../support/cli.js";

const SECRET = "sk_live_Q7wErTy9UiOpAsDfGh2K";
const upstream = new Upstream();
let server: RunningBundle;
let audit: string;

beforeAll(async () => {
  await upstream.start();
  upstream.routes.set("/echo", (request, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ echoed: JSON.parse(request.body) as unknown, key: request.headers.authorization }));
  });
  // httpbin's way: the body it got, as text, inside its JSON answer.
  upstream.routes.set("/raw", (request, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ data: request.body }));
  });
  const dir = writeConfig({
    "tools/echo.yaml": `tool: echo\ndescription: reflects the request\ninput:\n  mode: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/echo\n  auth: { secret: SECRET_A }\n  body:\n    mode: \${mode}\n`,
    "tools/raw.yaml": `tool: raw\ndescription: reflects the raw body\ninput:\n  mode: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/raw\n  auth: { secret: SECRET_A }\n  body:\n    mode: \${mode}\n`,
    "tools/joined.yaml": `tool: joined\ndescription: joins two fields into one value\ninput:\n  a: string\n  b: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/echo\n  auth: { secret: SECRET_A }\n  headers:\n    X-Key-Again: \${secrets.SECRET_A}\n  body:\n    one: \${a}\n    both: "\${a}\${b}"\n`,
    "tools/beside.yaml": `tool: beside\ndescription: an agent field right next to the injected key\ninput:\n  a: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/echo\n  headers:\n    X-K: "\${a}\${secrets.SECRET_A}"\n  body:\n    pre: "\${a}\${secrets.SECRET_A}"\n    post: "\${secrets.SECRET_A}\${a}"\n`,
    "tools/gated.yaml": `tool: gated\ndescription: needs an approval\ninput:\n  mode: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/echo\n  auth: { secret: SECRET_A }\n  body:\n    mode: \${mode}\n`,
    "policies/ops.yaml": "policy: ops\nallow:\n  - tool: echo\n  - tool: raw\n  - tool: joined\n  - tool: beside\n  - tool: gated\n    require_approval: true\n",
  });
  audit = join(dir, "audit.jsonl");
  server = await startBundle(await buildBundle(dir), ["--audit", audit], { SECRET_A: SECRET });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

const guess = (mode: string) => post(`${server.url}/v1/execute`, { agent: "ops", tool: "echo", input: { mode } });
const hex = (text: string) => Buffer.from(text).toString("hex");

describe("a piece of a secret is no oracle (real bundle)", () => {
  it.each([
    ["raw", (s: string) => s],
    ["as hex", hex],
    ["inside other text", (s: string) => `zz${s}zz`],
  ])("%s: the right next byte and a wrong one get the same answer; both are executed", async (_name, form) => {
    const known = SECRET.slice(0, 11);
    const right = form(known + SECRET[11]);
    const wrong = form(`${known}#`);
    const before = upstream.received.length;
    const answers = [await guess(right), await guess(wrong)];
    expect(upstream.received.length - before).toBe(2);
    for (const [i, sent] of [right, wrong].entries()) {
      expect(answers[i]!.status).toBe(200);
      expect(answers[i]!.body.result).toEqual({ echoed: { mode: sent }, key: "Bearer [REDACTED]" });
    }
    const shape = (text: string, sent: string) => text.replace(sent, "GUESS").replace(/"audit_id":"[^"]+"/, "");
    expect(shape(answers[0]!.text, right)).toBe(shape(answers[1]!.text, wrong));
  });

  it("an upstream echoing the raw body it got (as text in its JSON) does not tell either, escapes in the guess included", async () => {
    // The agent writes its guess with a JSON escape; this runtime's encoding of the body doubles the
    // backslash, the upstream echoes that, and a reader undoing two layers finds the piece.
    const known = SECRET.slice(0, 11);
    const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    const right = `${known}${escaped(SECRET[11]!)}`;
    const wrong = `${known}${escaped("#")}`;
    const answers = [];
    for (const mode of [right, wrong]) {
      const res = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "raw", input: { mode } });
      expect(res.status).toBe(200);
      expect(res.body.result).toEqual({ data: JSON.stringify({ mode }) });
      answers.push(res.text.replace(/"audit_id":"[^"]+"/, ""));
    }
    expect(answers[0]!.replace(escaped(SECRET[11]!).replace("\\", "\\\\"), "G")).toBe(answers[1]!.replace(escaped("#").replace("\\", "\\\\"), "G"));
  });

  it("a template joining two fields into one value: the joined value is the agent's text too; joined whole, it is refused", async () => {
    const known = SECRET.slice(0, 11);
    const hex = (t: string) => Buffer.from(t).toString("hex");
    const answers = [];
    for (const [a, b] of [[known, SECRET[11]!], [known, "F"], [hex(known), hex(SECRET[11]!)], [hex(known), hex("F")]]) {
      const res = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "joined", input: { a, b } });
      expect(res.status).toBe(200);
      expect(res.body.result.echoed).toEqual({ one: a, both: `${a}${b}` });
      answers.push(res.text.replace(/"audit_id":"[^"]+"/, ""));
    }
    expect(answers[0]!.replaceAll(SECRET[11]!, "G").length).toBe(answers[1]!.replaceAll("F", "G").length);
    // Split so that neither half is a piece on its own, yet joined by the template into the whole key.
    const before = upstream.received.length;
    const split = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "joined", input: { a: SECRET.slice(0, 16), b: SECRET.slice(16) } });
    expect(split.status).toBe(403);
    expect(split.body.reason).toBe("the input holds one of this gateway's own secrets, which it never sends");
    expect(upstream.received.length).toBe(before);
  });

  it("a field right next to the injected key: a right guess stays as sent, as a wrong one does; the key minus its last byte is not refused", async () => {
    const known = SECRET.slice(0, 11);
    for (const [right, wrong] of [[`${known}${SECRET[11]}`, `${known}#`], [SECRET.slice(0, -1), `${SECRET.slice(0, -2)}x`]]) {
      const answers = [];
      for (const a of [right!, wrong!]) {
        const res = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "beside", input: { a } });
        expect(res.status, a).toBe(200);
        expect(res.body.result.echoed).toEqual({ pre: `${a}[REDACTED]`, post: `[REDACTED]${a}` });
        answers.push(res.text.replaceAll(a, "GUESS").replace(/"audit_id":"[^"]+"/, ""));
      }
      expect(answers[0]).toBe(answers[1]);
    }
  });

  it("forward proxy: a request to no tool quotes the path back the same for a right and a wrong guess", async () => {
    const { request } = await import("node:http");
    const port = new URL(server.url).port;
    const refuse = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, method: "GET", path: `http://127.0.0.1:${upstream.port}${path}`, headers: { host: `127.0.0.1:${upstream.port}`, "proxy-authorization": `Basic ${Buffer.from("ops:x").toString("base64")}` } }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on("error", reject);
        req.end();
      });
    const known = SECRET.slice(0, 11);
    const before = upstream.received.length;
    const right = await refuse(`/other/${known}${SECRET[11]}`);
    const wrong = await refuse(`/other/${known}Z`);
    expect(right.status).toBe(403);
    expect(right.text).toContain(`/other/${known}${SECRET[11]}`);
    expect(right.text.replaceAll(`${known}${SECRET[11]}`, "G").replace(/"audit_id":"[^"]+"/, "")).toBe(wrong.text.replaceAll(`${known}Z`, "G").replace(/"audit_id":"[^"]+"/, ""));
    // The whole secret in the path is still redacted.
    const whole = await refuse(`/other/${SECRET}`);
    expect(readFileSync(audit, "utf8")).not.toContain(SECRET);
    expect(whole.text).not.toContain(SECRET);
    expect(upstream.received.length).toBe(before);
  });

  it("an approval id or an agent name holding a whole secret is not kept in the audit", async () => {
    const presented = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "gated", input: { mode: "m" }, approval_id: SECRET });
    expect(presented.status).toBe(403);
    // Without an agents file the name is the agent's own text (the policy here names no agents).
    const named = await post(`${server.url}/v1/execute`, { agent: SECRET, tool: "echo", input: { mode: "m" } });
    expect(named.status).toBe(200);
    expect(readFileSync(audit, "utf8")).not.toContain(SECRET);
  });

  it("the whole secret, in any form, is still refused before anything is sent, and no answer carries it", async () => {
    const before = upstream.received.length;
    for (const mode of [SECRET, hex(SECRET), Buffer.from(`x${SECRET}`).toString("base64")]) {
      const res = await guess(mode);
      expect(res.status).toBe(403);
      expect(res.body.reason).toBe("the input holds one of this gateway's own secrets, which it never sends");
      expect(res.text).not.toContain(SECRET);
    }
    expect(upstream.received.length).toBe(before);
  });

  it("the audit holds the pieces redacted and still verifies", async () => {
    const text = readFileSync(audit, "utf8");
    expect(text).not.toContain(SECRET.slice(0, 12));
    expect(text).not.toContain(hex(SECRET.slice(0, 12)));
    expect(text).toContain("[REDACTED]");
    expect((await keyrunner(["audit", "verify", audit])).code).toBe(0);
  });
});
