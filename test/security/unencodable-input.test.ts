// Input that cannot be encoded for its place — a lone surrogate anywhere, text past Latin-1 in a header —
// is a 400 invalid with an audit record, on /v1/execute, in forward mode and over MCP; never a 500, never
// a request that policy judged in one form and the upstream received in another.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";

const upstream = new Upstream();
let dir: string;
let server: RunningBundle;
const audit = () => join(dir, "audit.jsonl");

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  dir = writeConfig({
    "tools/places.yaml": [
      `tool: in_path\ndescription: a path template\ninput:\n  id: string\nrun: { type: http, method: GET, url: "${origin}/items/\${id}" }\n`,
      `tool: in_query\ndescription: a query template\ninput:\n  q: string\nrun: { type: http, method: GET, url: "${origin}/search?q=\${q}" }\n`,
      `tool: in_header\ndescription: a header template\ninput:\n  note: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/notes\n  headers:\n    X-Note: \${note}\n`,
      `tool: in_form\ndescription: a form body\ninput:\n  text: string\n  tags: string[]\nrun:\n  type: http\n  method: POST\n  url: ${origin}/form\n  encoding: form\n  body:\n    text: \${text}\n`,
      `tool: in_json\ndescription: a JSON body\ninput:\n  text: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/json\n  body:\n    text: \${text}\n`,
    ].join("---\n"),
    "policies/places.yaml": `policy: places\nallow:\n${["in_path", "in_query", "in_header", "in_form", "in_json"].map((t) => `  - tool: ${t}\n`).join("")}`,
  });
  server = await startBundle(await buildBundle(dir), ["--audit", audit()], {});
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

/** POSTs raw JSON text, so that `\ud800` reaches the server as the escape JSON allows. */
function postRaw(path: string, text: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = request({ host: "127.0.0.1", port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end(text);
  });
}

const records = () => readFileSync(audit(), "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>);

describe("inputs that cannot be encoded are invalid", () => {
  it.each([
    ["in_path", '{"id":"a\\ud800b"}', "id"],
    ["in_query", '{"q":"\\udfff"}', "q"],
    ["in_header", '{"note":"x\\ud83d"}', "note"],
    ["in_form", '{"text":"ok","tags":["fine","\\udc00"]}', "tags.1"],
    ["in_json", '{"text":"\\ud800"}', "text"],
  ])("%s with a lone surrogate: 400 invalid naming %s, audited, nothing sent", async (tool, input, path) => {
    const mark = upstream.received.length;
    const res = await postRaw("/v1/execute", `{"agent":"a","tool":"${tool}","input":${input}}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "invalid", errors: [{ path, message: expect.stringContaining("lone surrogate") }] });
    expect(upstream.received.length).toBe(mark);
    expect(records().find((r) => r.id === res.body.audit_id)).toMatchObject({ decision: "invalid", tool });
  });

  it("a reason with a lone surrogate is invalid too", async () => {
    const res = await postRaw("/v1/execute", '{"agent":"a","tool":"in_json","input":{"text":"ok"},"reason":"why\\ud800"}');
    expect(res.body).toMatchObject({ status: "invalid", errors: [{ path: "reason" }] });
  });

  it("text past Latin-1 in a header is invalid, not an upstream error", async () => {
    const mark = upstream.received.length;
    const res = await postRaw("/v1/execute", JSON.stringify({ agent: "a", tool: "in_header", input: { note: "50 € refund" } }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "invalid", errors: [{ path: "X-Note", message: "must be Latin-1 text in a header" }] });
    expect(upstream.received.length).toBe(mark);
    // Latin-1 itself is sent as it is.
    expect((await postRaw("/v1/execute", JSON.stringify({ agent: "a", tool: "in_header", input: { note: "Zoë" } }))).status).toBe(200);
  });

  it("in forward mode: a JSON body with a lone surrogate is a 400 invalid_request, audited, nothing forwarded", async () => {
    const mark = upstream.received.length;
    const body = '{"text":"\\ud800"}';
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: new URL(server.url).port, path: `http://127.0.0.1:${upstream.port}/json`, method: "POST", headers: { host: `127.0.0.1:${upstream.port}`, "content-type": "application/json", "content-length": Buffer.byteLength(body), "proxy-authorization": `Basic ${Buffer.from("a:x").toString("base64")}` } },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain("lone surrogate");
    expect(upstream.received.length).toBe(mark);
    expect(records().find((r) => r.id === answer.body.error.audit_id)).toMatchObject({ decision: "invalid", tool: "in_json" });
  });

  it("over MCP: a tool error that says what is wrong, not 'URI malformed'", async () => {
    const mark = upstream.received.length;
    const client = new Client({ name: "unencodable", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp?agent=a`)));
    const result = await client.callTool({ name: "in_path", arguments: { id: "a\ud800" } });
    await client.close();
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]!.text).toMatch(/^Invalid input, nothing was executed: id is not valid Unicode text/);
    expect(upstream.received.length).toBe(mark);
  });
});
