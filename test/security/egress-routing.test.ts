// DNS rebinding and redirects, against the real bundle process. Two preloads stand in for the world:
// stub-dns.mjs answers lookups (a rebinding name answers a public address first, loopback after), and
// stub-network.mjs routes the "public" addresses 203.0.113.x to local servers. The internal upstream
// listens on 127.0.0.1, so any connection that slipped through to it is counted.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { eventually } from "../support/eventually.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_egress_routing_0123";
const PUBLIC_SITE = "203.0.113.10";
const PUBLIC_EVIL = "203.0.113.66";

// One throwaway certificate for every TLS host here, trusted by the bundle through NODE_EXTRA_CA_CERTS.
const certDir = mkdtempSync(join(tmpdir(), "kr-tls-"));
const tlsCert = join(certDir, "tls.crt");
execFileSync(
  "openssl",
  ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(certDir, "tls.key"), "-out", tlsCert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,DNS:rebind.test,DNS:mixed.test,DNS:site.test,DNS:evil.test"],
  { stdio: "ignore" },
);
const tlsIdentity = { key: readFileSync(join(certDir, "tls.key")), cert: readFileSync(tlsCert) };

/** What an attacker wants to reach: an internal service on loopback. Every named tool URL carries its port. */
const internal = new Upstream();
/** The tools' legitimate public API, https at 203.0.113.10 (through the stub network). */
const site = new Upstream(tlsIdentity);
/** Another public origin, https at 203.0.113.66, where a followed redirect would carry the credential. */
const evil = new Upstream(tlsIdentity);
/** localhost over https, redirecting to plain http. */
const secureLocal = new Upstream(tlsIdentity);
let server: RunningBundle;
let dir: string;

beforeAll(async () => {
  await Promise.all([internal.start(), site.start(), evil.start(), secureLocal.start()]);
  const port = internal.port;
  // Every redirect points somewhere an attacker would like the request to go.
  site.routes.set("/to-internal", (_r, res) => void res.writeHead(302, { location: `http://127.0.0.1:${port}/admin` }).end());
  site.routes.set("/to-metadata", (_r, res) => void res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/iam/security-credentials/" }).end());
  site.routes.set("/to-evil", (_r, res) => void res.writeHead(307, { location: `https://evil.test:${port}/collect` }).end());
  secureLocal.routes.set("/secure", (_r, res) => void res.writeHead(301, { location: `http://localhost:${port}/plain?token=${SECRET}` }).end());
  // Each answer closes its connection, so that every request makes a new connection and a new lookup.
  site.routes.set("/probe", (_r, res) => void res.writeHead(200, { "content-type": "application/json", connection: "close" }).end('{"reached":"public"}'));

  const tools = [
    ["rebinding", "GET", `https://rebind.test:${port}/probe`],
    ["mixed_answer", "GET", `https://mixed.test:${port}/probe`],
    ["redirect_internal", "GET", `https://site.test:${port}/to-internal`],
    ["redirect_metadata", "GET", `https://site.test:${port}/to-metadata`],
    ["redirect_cross_origin", "POST", `https://site.test:${port}/to-evil`],
    ["redirect_downgrade", "GET", `https://localhost:${secureLocal.port}/secure`],
  ] as const;
  dir = writeConfig({
    "tools/egress.yaml": tools
      .map(([name, method, url]) => `tool: ${name}\ndescription: ${name}\nrun:\n  type: http\n  method: ${method}\n  url: "${url}"\n  auth: { secret: SITE_KEY }\n  timeout_ms: 3000\n`)
      .join("---\n"),
    "policies/egress.yaml": `policy: egress\nallow:\n${tools.map(([name]) => `  - tool: ${name}\n`).join("")}`,
  });
  const bundle = await buildBundle(dir);
  const dns = {
    "rebind.test": { sequence: [[PUBLIC_SITE], ["127.0.0.1"]] },
    "mixed.test": ["127.0.0.1", PUBLIC_SITE],
    "site.test": [PUBLIC_SITE],
    "evil.test": [PUBLIC_EVIL],
  };
  server = await startBundle(
    bundle,
    ["--audit", join(dir, "audit.jsonl"), "--no-permission-model"],
    {
      SITE_KEY: SECRET,
      KR_STUB_DNS: JSON.stringify(dns),
      KR_STUB_ROUTES: JSON.stringify({ [PUBLIC_SITE]: site.port, [PUBLIC_EVIL]: evil.port }),
      NODE_EXTRA_CA_CERTS: tlsCert,
    },
    ["--import", join(import.meta.dirname, "stub-dns.mjs"), "--import", join(import.meta.dirname, "stub-network.mjs"), "--no-deprecation"],
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await Promise.all([internal.stop(), site.stop(), evil.stop(), secureLocal.stop()]);
});

const run = (tool: string) => post(`${server.url}/v1/execute`, { agent: "a", tool, input: {} });
const bearer = `Bearer ${SECRET}`;
const audit = () => readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);

describe("DNS rebinding", () => {
  it("a name that answers public, then loopback: the checked address is the one connected to, and the rebound lookup is refused", async () => {
    const before = { internal: internal.connections, site: site.received.length };
    const first = await run("rebinding");
    expect(first.status).toBe(200);
    expect(first.body.result).toEqual({ reached: "public" });
    // The site closed the connection: the next request looks the name up again, and now it is loopback.
    for (let i = 0; i < 3; i++) {
      const again = await run("rebinding");
      expect(again.status).toBe(502);
      expect(again.body).toMatchObject({ status: "upstream_error", message: "the upstream address is not allowed" });
    }
    expect(site.received.length - before.site).toBe(1);
    expect(internal.connections).toBe(before.internal);
    // The audit holds each refused attempt: allowed by policy, then refused at the connection.
    const outcomes = await eventually(
      () => audit().filter((r) => r.tool === "rebinding" && r.decision === "outcome"),
      (found) => found.length >= 4,
    );
    expect(outcomes.map((r) => r.status)).toEqual(["ok", "upstream_error", "upstream_error", "upstream_error"]);
  });

  it("an answer mixing loopback and a public address connects to the public one only", async () => {
    const before = { internal: internal.connections, site: site.received.length };
    for (let i = 0; i < 3; i++) {
      const res = await run("mixed_answer");
      expect(res.status).toBe(200);
      expect(res.body.result).toEqual({ reached: "public" });
    }
    expect(site.received.length - before.site).toBe(3);
    expect(internal.connections).toBe(before.internal);
  });
});

describe("redirects are answers, never followed", () => {
  it.each([
    ["redirect_internal", 302, (port: number) => `http://127.0.0.1:${port}/admin`],
    ["redirect_metadata", 302, () => "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
  ])("%s: the agent sees where it pointed; nothing connects there", async (tool, status, location) => {
    const before = { internal: internal.connections, site: site.received.length };
    const res = await run(tool);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ok", http_status: status, result: { location: location(internal.port) } });
    expect(site.received.length - before.site).toBe(1);
    expect(internal.connections).toBe(before.internal);
  });

  it("a cross-origin 307 would re-send the credential: it goes to the tool's origin once and nowhere else", async () => {
    const before = { evil: evil.connections, site: site.received.length };
    const res = await run("redirect_cross_origin");
    expect(res.body).toMatchObject({ status: "ok", http_status: 307, result: { location: `https://evil.test:${internal.port}/collect` } });
    const sent = site.since(before.site);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.authorization).toBe(bearer);
    expect(evil.connections).toBe(before.evil);
    expect(evil.received).toHaveLength(0);
  });

  it("https→http: the downgrade is not followed, and the secret in the Location is redacted for the agent and the audit", async () => {
    const before = { internal: internal.connections, secure: secureLocal.received.length };
    const res = await run("redirect_downgrade");
    expect(res.body).toMatchObject({ status: "ok", http_status: 301, result: { location: `http://localhost:${internal.port}/plain?token=[REDACTED]` } });
    expect(secureLocal.received.length - before.secure).toBe(1);
    expect(internal.connections).toBe(before.internal);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(readFileSync(join(dir, "audit.jsonl"), "utf8")).not.toContain(SECRET);
    expect(server.stderr() + server.stdout()).not.toContain(SECRET);
  });
});
