// HTTPS interception's test world: a TLS upstream on 127.0.0.1 (its certificate from a throwaway test CA
// made with openssl, trusted by the bundle through NODE_EXTRA_CA_CERTS) standing in for the APIs at
// https://localhost:PORT, a config whose tools name it, a CA made by `keyrunner ca init`, and the real
// bundle serving with `--ca`. Clients get their environment from `keyrunner proxy-env`.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "./bundle-process.js";
import { keyrunner, repoRoot } from "./cli.js";
import { Upstream } from "./upstream.js";

export const STRIPE_KEY = "sk_test_real_key_https_0123456";
export const GITHUB_KEY = "ghp_real_token_https_456789012";
export const OPENAI_KEY = "sk-real-openai-key-https-789012";
export const TOKEN = "kr_support_https_token_00000001";
export const OTHER_TOKEN = "kr_other_https_token_000000002";

/** A CA and a server certificate for localhost and 127.0.0.1, made with openssl in `dir`. */
export function testCertificates(dir: string, name = "upstream"): { ca: string; key: Buffer; cert: Buffer } {
  const at = (f: string) => join(dir, `${name}-${f}`);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=KeyRunner test ${name} CA`, "-keyout", at("ca.key"), "-out", at("ca.crt"));
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-keyout", at("server.key"), "-out", at("server.csr"));
  writeFileSync(at("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", at("server.csr"), "-CA", at("ca.crt"), "-CAkey", at("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", at("san.ext"), "-out", at("server.crt"));
  return { ca: at("ca.crt"), key: readFileSync(at("server.key")), cert: readFileSync(at("server.crt")) };
}

export interface HttpsWorld {
  dir: string;
  upstream: Upstream;
  /** An https upstream whose certificate nobody trusts. */
  untrusted: Upstream;
  server: RunningBundle;
  caDir: string;
  /** http://support-agent:TOKEN@127.0.0.1:PORT */
  proxy: string;
  proxyHost: string;
  proxyPort: number;
  /** The environment `keyrunner proxy-env` printed, parsed. */
  env: Record<string, string>;
  audit(): Array<Record<string, any>>;
  stop(): Promise<void>;
}

/** The upstream's answers echo the Authorization they received: the echo must reach clients redacted. */
function routes(upstream: Upstream): void {
  upstream.routes.set("/v1/refunds", (req, res) => {
    const form = new URLSearchParams(req.body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "re_123", object: "refund", amount: Number(form.get("amount")), payment_intent: form.get("payment_intent"), status: "succeeded", seen_authorization: req.headers.authorization }));
  });
  upstream.routes.set("/repos/", (req, res) => {
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ number: 7, state: "open", title: JSON.parse(req.body).title, seen_authorization: req.headers.authorization }));
  });
  upstream.routes.set("/v1/moderations", (req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "modr-1", model: JSON.parse(req.body).model, results: [{ flagged: false }], seen_authorization: req.headers.authorization }));
  });
}

export async function startHttpsWorld(extraArgs: string[] = []): Promise<HttpsWorld> {
  const certs = mkdtempSync(join(tmpdir(), "kr-https-certs-"));
  const trusted = testCertificates(certs, "upstream");
  const untrustedCerts = testCertificates(certs, "untrusted");
  const upstream = await new Upstream({ key: trusted.key, cert: trusted.cert }).start();
  const untrusted = await new Upstream({ key: untrustedCerts.key, cert: untrustedCerts.cert }).start();
  routes(upstream);
  const origin = `https://localhost:${upstream.port}`;
  const dir = writeConfig({
    "tools/stripe.yaml": `tool: create_refund\ndescription: Refund a payment (form-encoded, as Stripe takes it)\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: ${origin}/v1/refunds\n  encoding: form\n  auth: { secret: STRIPE_API_KEY }\n  body:\n    payment_intent: \${payment_id}\n    amount: \${amount_cents}\n`,
    "tools/github.yaml": `tool: create_issue\ndescription: Open a GitHub issue\ninput:\n  owner: string\n  repo: string\n  title: string\n  body: string\n  labels: { type: "string[]", default: [] }\nrun:\n  type: http\n  method: POST\n  url: ${origin}/repos/\${owner}/\${repo}/issues\n  auth: { secret: GITHUB_TOKEN }\n  body: { title: "\${title}", body: "\${body}", labels: "\${labels}" }\n`,
    "tools/openai.yaml": `tool: moderate_text\ndescription: Classify a text with OpenAI's moderation endpoint\ninput:\n  model: string\n  input: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/v1/moderations\n  auth: { secret: OPENAI_API_KEY }\n  body: { model: "\${model}", input: "\${input}" }\n`,
    "tools/untrusted.yaml": `tool: untrusted_call\ndescription: An upstream whose certificate no trusted CA signed\ninput:\n  note: string\nrun:\n  type: http\n  method: POST\n  url: https://127.0.0.1:${untrusted.port}/v1/notes\n  auth: { secret: STRIPE_API_KEY }\n  body: { note: "\${note}" }\n`,
    "policies/agents.yaml": `policy: support\nagents: [support-agent]\nallow:\n  - tool: create_refund\n    when: { amount_cents: { max: 5000 } }\n  - tool: create_issue\n    when:\n      owner: { equals: acme }\n  - tool: moderate_text\n    when:\n      model: { equals: omni-moderation-latest }\n  - tool: untrusted_call\n`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(TOKEN)} }\n  other-agent: { token_sha256: ${sha256Hex(OTHER_TOKEN)} }\n`,
  });
  const caDir = join(dir, "ca");
  const init = await keyrunner(["ca", "init", caDir, "--config", dir]);
  if (init.code !== 0) throw new Error(`ca init failed: ${init.stderr}`);
  const server = await startBundle(
    await buildBundle(dir),
    ["--audit", join(dir, "audit.jsonl"), "--agents", join(dir, "agents.yaml"), "--ca", caDir, ...extraArgs],
    { STRIPE_API_KEY: STRIPE_KEY, GITHUB_TOKEN: GITHUB_KEY, OPENAI_API_KEY: OPENAI_KEY, NODE_EXTRA_CA_CERTS: trusted.ca },
  );
  const address = new URL(server.url);
  const proxy = `http://support-agent:${TOKEN}@${address.host}`;
  const printed = await keyrunner(["proxy-env", "--proxy", proxy, "--ca", caDir]);
  if (printed.code !== 0) throw new Error(`proxy-env failed: ${printed.stderr}`);
  const env = Object.fromEntries(
    printed.stdout
      .trim()
      .split("\n")
      .map((line) => /^export ([A-Za-z_]+)=(.*)$/.exec(line)!)
      .map((m) => [m[1]!, m[2]!.startsWith("'") ? m[2]!.slice(1, -1).replace(/'\\''/g, "'") : m[2]!]),
  );
  // Client scripts resolve their packages (stripe, openai, …) as in a project that installed them.
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  return {
    dir,
    upstream,
    untrusted,
    server,
    caDir,
    proxy,
    proxyHost: address.hostname,
    proxyPort: Number(address.port),
    env,
    audit: () => readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)),
    async stop() {
      await server.stop();
      await upstream.stop();
      await untrusted.stop();
    },
  };
}

export interface ConnectAnswer {
  status: number;
  head: string;
  socket: Socket;
}

/** Sends a raw CONNECT to the bundle and reads its answer's head; the socket stays open after a 200. */
export function rawConnect(world: Pick<HttpsWorld, "proxyHost" | "proxyPort">, authority: string, proxyAuthorization?: string, extraHeaders = ""): Promise<ConnectAnswer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(world.proxyPort, world.proxyHost, () => {
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxyAuthorization === undefined ? "" : `Proxy-Authorization: ${proxyAuthorization}\r\n`}${extraHeaders}\r\n`);
    });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      // Held until a reader (readUntilClosed, a TLS client) takes the rest: flowing, it would be lost.
      socket.pause();
      const head = buffered.subarray(0, end).toString("latin1");
      const rest = buffered.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), head, socket });
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
}

export const basic = (agent: string, token: string) => `Basic ${Buffer.from(`${agent}:${token}`).toString("base64")}`;

/** TLS over an admitted tunnel, trusting the interception CA. */
export function tlsOverTunnel(socket: Socket, caFile: string, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, ca: readFileSync(caFile), servername: "localhost", ALPNProtocols: ["http/1.1"], ...options }, () => resolve(tls));
    tls.once("error", reject);
  });
}

/** Everything a socket sends until it closes (or `ms` pass). */
export function readUntilClosed(socket: Socket | TLSSocket, ms = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => resolve({ text, closed: false }), ms);
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.resume();
  });
}
