// One listing of tools: /v1/tools (each format), MCP tools/list on the real bundle, `keyrunner export` and
// the SDK show the same tools with the same arguments (reason, approval_id included) for the same agent.

import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { KeyRunner } from "../../sdk/index.js";
import { keyrunner } from "../support/cli.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";

const SECRET = "sk_test_listing_secret_01234";
const SUPPORT = "kr_listing_support_token_0001";
const OPS = "kr_listing_ops_token_000000002";
let dir: string;
let server: RunningBundle;

beforeAll(async () => {
  dir = writeConfig({
    ...seedConfig("http://127.0.0.1:9"),
    "policies/large_refunds.yaml": "policy: large_refunds\nagents: [support-agent]\nallow:\n  - tool: refund_payment\n    when: { amount_cents: { min: 5001, max: 50000 }, require_reason: true }\n    require_approval: true\n",
    "tools/ops.yaml": "tool: ops_status\ndescription: Read the ops status page\ninput:\n  service: string\nrun: { type: http, method: GET, url: \"http://127.0.0.1:9/status/${service}\" }\n",
    "policies/ops.yaml": "policy: ops\nagents: [ops-agent]\nallow:\n  - tool: ops_status\n",
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(SUPPORT)} }\n  ops-agent: { token_sha256: ${sha256Hex(OPS)} }\n`,
  });
  const bundle = await buildBundle(dir);
  server = await startBundle(bundle, ["--audit", join(dir, "audit.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

type Shape = { name: string; description: string; schema: unknown };

async function viaHttp(token: string): Promise<Record<string, Shape[]>> {
  const get = (format: string) => fetch(`${server.url}/v1/tools?format=${format}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ tools: any[] }>);
  const [anthropic, openai, mcp] = await Promise.all([get("anthropic"), get("openai"), get("mcp")]);
  return {
    "/v1/tools anthropic": anthropic.tools.map((t) => ({ name: t.name, description: t.description, schema: t.input_schema })),
    "/v1/tools openai": openai.tools.map((t) => ({ name: t.function.name, description: t.function.description, schema: t.function.parameters })),
    "/v1/tools mcp": mcp.tools.map((t) => ({ name: t.name, description: t.description, schema: t.inputSchema })),
  };
}

async function viaMcp(token: string): Promise<Shape[]> {
  const client = new Client({ name: "listing-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const { tools } = await client.listTools();
  await client.close();
  return tools.map((t) => ({ name: t.name, description: t.description ?? "", schema: t.inputSchema }));
}

async function viaExport(agent: string): Promise<Record<string, Shape[]>> {
  const run = async (format: string) => {
    const result = await keyrunner(["export", dir, "--format", format, "--agent", agent]);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };
  const [anthropic, openai, mcp] = await Promise.all([run("anthropic"), run("openai"), run("mcp")]);
  return {
    "export anthropic": anthropic.map((t: any) => ({ name: t.name, description: t.description, schema: t.input_schema })),
    "export openai": openai.map((t: any) => ({ name: t.function.name, description: t.function.description, schema: t.function.parameters })),
    "export mcp": mcp.tools.map((t: any) => ({ name: t.name, description: t.description, schema: t.inputSchema })),
  };
}

async function viaSdk(agent: string): Promise<Shape[]> {
  const runtime = new KeyRunner({ tools: join(dir, "tools"), policies: join(dir, "policies"), auditFile: join(dir, `sdk-${agent}.jsonl`) });
  try {
    return (await runtime.tools(agent)).map((t) => ({ name: t.name, description: t.description, schema: t.input_schema }));
  } finally {
    await runtime.close();
  }
}

describe("one listing of tools", () => {
  it.each([
    ["support-agent", SUPPORT],
    ["ops-agent", OPS],
  ])("%s: /v1/tools, MCP tools/list, export and the SDK agree exactly", async (agent, token) => {
    const listings: Record<string, Shape[]> = { ...(await viaHttp(token)), "MCP tools/list": await viaMcp(token), ...(await viaExport(agent)), SDK: await viaSdk(agent) };
    const reference = listings["/v1/tools anthropic"]!;
    expect(reference.length).toBeGreaterThan(0);
    for (const [where, listing] of Object.entries(listings)) expect({ where, listing }).toEqual({ where, listing: reference });
  });

  it("the reason and approval_id arguments the rules use are shown; each agent sees only the tools its rules allow", async () => {
    const support = (await viaHttp(SUPPORT))["/v1/tools anthropic"]!;
    const refund = support.find((t) => t.name === "refund_payment")!.schema as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(refund.properties)).toEqual(["payment_id", "amount_cents", "reason", "approval_id"]);
    expect(refund.required).toEqual(["payment_id", "amount_cents"]);
    expect(support.map((t) => t.name)).toEqual(["refund_payment"]);
    // The seed's refund rule governs every agent; the ops tool only the ops agent.
    expect((await viaHttp(OPS))["/v1/tools anthropic"]!.map((t) => t.name)).toEqual(["ops_status", "refund_payment"]);
  });
});
