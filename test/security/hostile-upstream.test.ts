// A hostile upstream against the real bundle (issue 13, points 2–4): the secret comes back in every form
// a reader decodes, in a coding KeyRunner cannot inspect, nested deep; on execute, the forward proxy and
// MCP. The agent's answers, the audit and the logs are judged by the independent leak oracle.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fetch as undiciFetch, ProxyAgent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { eventually } from "../support/eventually.js";
import { findLeak } from "../support/leak-oracle.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_live_51HqLyjWDarjtT1zdp7dcQ9xTb";
const TOKEN = "kr_hostile_upstream_token_0001";
const upstream = new Upstream();
let server: RunningBundle;
let dir: string;
let proxy: ProxyAgent;
let origin: string;

const bytes = Buffer.from(SECRET);
/** The forms that reached the agent before (issue 13, point 2). */
const FORMS = {
  percent_lower: [...bytes].map((b) => `%${b.toString(16)}`).join(""),
  percent_upper: [...bytes].map((b) => `%${b.toString(16).toUpperCase()}`).join(""),
  mixed_hex: bytes.toString("hex").replace(/[a-f]/g, (c, i: number) => (i % 3 ? c.toUpperCase() : c)),
  wrapped_base64: Buffer.from(`user:${SECRET}`).toString("base64").replace(/(.{8})/g, "$1\r\n"),
  first_20: SECRET.slice(0, 20),
  last_20: SECRET.slice(-20),
  middle_of_credential: Buffer.from(`Basic ${SECRET}:`).toString("base64").slice(10, 30),
};
const formsText = Object.entries(FORMS).map(([k, v]) => `${k}=${v}`).join("\n");
const deep = (levels: number, leaf: string) => `${'{"a":'.repeat(levels)}${leaf}${"}".repeat(levels)}`;

const execute = (tool: string) => post(`${server.url}/v1/execute`, { tool, input: {} }, { authorization: `Bearer ${TOKEN}` });
const forward = async (path: string) => {
  const res = await undiciFetch(`${origin}${path}`, { dispatcher: proxy });
  return { status: res.status, text: await res.text() };
};
const audit = () => readFileSync(join(dir, "audit.jsonl"), "utf8");
const outcomeOf = async (auditId: string) => {
  const records = await eventually(
    () => audit().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.id === auditId),
    (found) => found.some((r) => r.decision === "outcome"),
  );
  return records.find((r) => r.decision === "outcome")!;
};
const expectNoLeak = (text: string) => expect(findLeak(text, SECRET) ?? "no leak").toBe("no leak");

beforeAll(async () => {
  await upstream.start();
  origin = `http://127.0.0.1:${upstream.port}`;
  const json = (status: number, body: string, headers: Record<string, string> = {}) => (_req: unknown, res: import("node:http").ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  };
  upstream.routes.set("/forms", json(200, JSON.stringify({ ...FORMS, escaped: `${SECRET.slice(0, 4)}${SECRET.slice(4).replace(/./g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}` }).replace(/\\\\u/g, "\\u")));
  upstream.routes.set("/ndjson", (_req, res) => {
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.end(`{"n":1}\n{"key":"${[...SECRET].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"}\n${formsText}\n`);
  });
  upstream.routes.set("/error", (_req, res) => {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`bad request; your key was:\n${formsText}\n`);
  });
  upstream.routes.set("/redirect", (_req, res) => {
    res.writeHead(302, { location: `https://evil.example/cb?k=${FORMS.percent_upper}&h=${FORMS.mixed_hex}` });
    res.end();
  });
  // A coding KeyRunner cannot decode: the bytes are gzip, which a client that tries harder would read.
  upstream.routes.set("/zstd", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "zstd" });
    res.end(gzipSync(JSON.stringify({ key: SECRET })));
  });
  upstream.routes.set("/deep30", json(200, deep(30, JSON.stringify(`x${SECRET}`))));
  upstream.routes.set("/deep100", json(200, deep(100, JSON.stringify(SECRET))));
  upstream.routes.set("/text", (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("card=4242424242424242 id=re_1");
  });
  const tool = (name: string, path: string, extra = "") => `tool: ${name}\ndescription: ${name}\nrun:\n  type: http\n  method: GET\n  url: ${origin}${path}\n  auth: { secret: API_KEY }\n${extra}`;
  const tools = [tool("forms", "/forms"), tool("ndjson", "/ndjson"), tool("error", "/error"), tool("redirect", "/redirect"), tool("zstd", "/zstd"), tool("deep30", "/deep30"), tool("deep100", "/deep100"), tool("picked_text", "/text", "output:\n  pick: [id]\n")];
  dir = writeConfig({
    "tools/hostile.yaml": tools.join("---\n"),
    "policies/hostile.yaml": `policy: hostile\nagents: [agent]\nallow:\n${["forms", "ndjson", "error", "redirect", "zstd", "deep30", "deep100", "picked_text"].map((t) => `  - tool: ${t}\n`).join("")}`,
    "agents.yaml": `agents:\n  agent: { token_sha256: ${sha256Hex(TOKEN)} }\n`,
  });
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl"), "--agents", join(dir, "agents.yaml")], { API_KEY: SECRET });
  proxy = new ProxyAgent({ uri: server.url.replace("http://", `http://agent:${TOKEN}@`), proxyTunnel: false });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await upstream.stop();
});

describe("redaction judged on what a reader can recover, through the bundle", () => {
  it("execute: percent-encoded, mixed-case hex, wrapped base64 and fragments of the key leak nothing", async () => {
    const res = await execute("forms");
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.result).sort()).toEqual([...Object.keys(FORMS), "escaped"].sort());
    for (const value of Object.values(res.body.result as Record<string, string>)) expect(value).toContain("[REDACTED]");
    expectNoLeak(res.text);
  });

  it("execute: an NDJSON body with \\u escapes leaks nothing", async () => {
    const res = await execute("ndjson");
    expect(res.status).toBe(200);
    expect(res.body.result).toMatch(/^\{"n":1\}\n\{"key":"\[REDACTED\]"\}\n/);
    expectNoLeak(res.text);
  });

  it("execute: a Location header with the key percent-encoded and in hex leaks nothing", async () => {
    const res = await execute("redirect");
    expect(res.body).toMatchObject({ status: "ok", http_status: 302 });
    expect(res.body.result.location).toMatch(/^https:\/\/evil\.example\/cb\?k=\[REDACTED\]&h=\[REDACTED\]$/);
    expectNoLeak(res.text);
  });

  it("forward proxy: the upstream's error body, passed through, leaks nothing", async () => {
    const res = await forward("/error");
    expect(res.status).toBe(400);
    expect(res.text).toContain("bad request; your key was:");
    expectNoLeak(res.text);
  });

  it("forward proxy: a 200 body in every form leaks nothing", async () => {
    const res = await forward("/forms");
    expect(res.status).toBe(200);
    expectNoLeak(res.text);
  });

  it("MCP: tools/call leaks nothing", async () => {
    const client = new Client({ name: "hostile-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    try {
      for (const name of ["forms", "ndjson", "redirect"]) {
        const result = await client.callTool({ name, arguments: {} });
        expect(result.isError).toBeFalsy();
        expectNoLeak(JSON.stringify(result));
      }
    } finally {
      await client.close();
    }
  });

  it("the audit and the logs leak nothing", async () => {
    await execute("forms");
    expectNoLeak(audit());
    expectNoLeak(server.stdout());
    expectNoLeak(server.stderr());
  });
});

describe("never pass on what cannot be inspected", () => {
  it("asks the upstream only for gzip, deflate and br", async () => {
    const mark = upstream.received.length;
    await execute("forms");
    expect(upstream.since(mark).map((r) => r.headers["accept-encoding"])).toEqual(["gzip, deflate, br"]);
  });

  it("execute: a body in a coding it cannot decode is a 502 upstream_error, and the outcome record says so", async () => {
    const res = await execute("zstd");
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ status: "upstream_error", http_status: 200, message: "the upstream response is in a content encoding KeyRunner cannot inspect", audit_id: res.body.audit_id });
    expect(await outcomeOf(res.body.audit_id)).toMatchObject({ status: "upstream_error", http_status: 200 });
  });

  it("forward proxy: the same body is a 502, never forwarded", async () => {
    const res = await forward("/zstd");
    expect(res.status).toBe(502);
    expect(res.text).toContain("content encoding KeyRunner cannot inspect");
    expect(res.text).not.toContain(gzipSync(JSON.stringify({ key: SECRET })).subarray(0, 10).toString("latin1"));
  });
});

describe("bounded work on hostile JSON", () => {
  it("a secret 30 objects deep is redacted in well under a second", async () => {
    const started = performance.now();
    const res = await execute("deep30");
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.text).toContain("[REDACTED]");
    expectNoLeak(res.text);
  });

  it("a body nested deeper than the limit is a clean 502, and the outcome record says upstream_error", async () => {
    const res = await execute("deep100");
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ status: "upstream_error", http_status: 200, message: "the upstream response is nested deeper than 64 levels", audit_id: res.body.audit_id });
    expect(await outcomeOf(res.body.audit_id)).toMatchObject({ status: "upstream_error" });
    expect((await forward("/deep100")).status).toBe(502);
  });

  it("output rules that cannot apply fail closed: a 502, never the unfiltered body", async () => {
    const res = await execute("picked_text");
    expect(res.status).toBe(502);
    expect(res.body.message).toBe("the upstream response could not be filtered by the tool's output rules");
    expect(res.text).not.toContain("4242");
    expect(await outcomeOf(res.body.audit_id)).toMatchObject({ status: "upstream_error" });
  });
});
