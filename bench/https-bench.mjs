// HTTPS interception's cost, in one run beside plain forward mode (`npm run bench:https`, part of `npm run
// bench`): the bundle (sandboxed, as deployed) with `--ca`, a TLS upstream in its own process, and this
// process as the agent. Measures (1) a new tunnel: CONNECT → 200 → TLS handshake with the bundle's leaf →
// one request, sequentially, and the handshake alone; (2) requests per second inside kept-alive tunnels;
// (3) requests per second of plain forward mode (absolute-form http to the proxy) to the same tool and
// upstream. Every request is a real allowed refund: policy, durable audit, the upstream call over TLS.
// Writes bench/results/https.json and https.md. About 20 s.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { connect as netConnect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Client } from "undici";
import { buildConfig } from "../lib/compiler/build.js";
import { initCa } from "../lib/compiler/interception-commands.js";
import { startServer, stopServers } from "./bench-processes.mjs";

const root = join(import.meta.dirname, "..");
const SECONDS = Number(process.env.KR_HTTPS_BENCH_SECONDS ?? 5);
const NEW_TUNNELS = Number(process.env.KR_HTTPS_BENCH_TUNNELS ?? 200);
const CONCURRENCY = 8;
const TOKEN = "kr_bench_https_token_000000000001";
const dir = mkdtempSync(join(tmpdir(), "kr-https-bench-"));
const at = (f) => join(dir, f);

// The upstream's certificate, from a throwaway CA that the bundle trusts through NODE_EXTRA_CA_CERTS.
const openssl = (...args) => execFileSync("openssl", args, { stdio: "pipe" });
openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=bench CA", "-keyout", at("up-ca.key"), "-out", at("up-ca.crt"));
openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-keyout", at("up.key"), "-out", at("up.csr"));
writeFileSync(at("san.ext"), "subjectAltName=DNS:localhost\n");
openssl("x509", "-req", "-in", at("up.csr"), "-CA", at("up-ca.crt"), "-CAkey", at("up-ca.key"), "-CAcreateserial", "-days", "1", "-extfile", at("san.ext"), "-out", at("up.crt"));

const upstreamCode = `
import { createServer } from "node:https";
import { readFileSync } from "node:fs";
const reply = JSON.stringify({ id: "re_1", object: "refund", status: "succeeded", amount: 2500 });
const server = createServer({ key: readFileSync(${JSON.stringify(at("up.key"))}), cert: readFileSync(${JSON.stringify(at("up.crt"))}) }, (req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) }); res.end(reply); });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.stdout.write("listening " + server.address().port + "\\n"));
`;
const upstream = await startServer(["--input-type=module", "-e", upstreamCode]);
const origin = `https://localhost:${upstream.port}`;

mkdirSync(at("config/tools"), { recursive: true });
mkdirSync(at("config/policies"), { recursive: true });
writeFileSync(at("config/tools/refund.yaml"), `tool: create_refund\ndescription: Refund a payment\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: ${origin}/v1/refunds\n  encoding: form\n  auth: { secret: STRIPE_API_KEY }\n  body:\n    payment_intent: \${payment_id}\n    amount: \${amount_cents}\n`);
writeFileSync(at("config/policies/refunds.yaml"), `policy: refunds\nagents: [bench-agent]\nallow:\n  - tool: create_refund\n    when: { amount_cents: { max: 5000 } }\n`);
const { sha256Hex } = await import("../lib/runtime-template/credentials/constant-time.js");
writeFileSync(at("agents.yaml"), `agents:\n  bench-agent: { token_sha256: ${sha256Hex(TOKEN)} }\n`);
const built = await buildConfig({ dir: at("config") }, at("dist"));
if (built.manifest === undefined) throw new Error("the bench config does not compile");
const ca = await initCa(at("ca"), { dir: at("config") }, false);
if (!ca.ok) throw new Error(ca.message);

const bundle = await startServer([at("dist/keyrunner.mjs"), "serve", "--port", "0", "--agents", at("agents.yaml"), "--audit", at("audit.jsonl"), "--ca", at("ca")], {
  STRIPE_API_KEY: "sk_test_bench_real_key_0123456789",
  NODE_EXTRA_CA_CERTS: at("up-ca.crt"),
});
const proxyAuth = `Basic ${Buffer.from(`bench-agent:${TOKEN}`).toString("base64")}`;
const caPem = readFileSync(at("ca/ca.pem"));
const body = "payment_intent=pi_bench&amount=2500";
const requestText = `POST /v1/refunds HTTP/1.1\r\nHost: localhost:${upstream.port}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (ns) => Math.round(Number(ns) / 1e4) / 100;

/** One new tunnel: CONNECT, TLS, one request; the handshake's and the whole exchange's durations (ns). */
function newTunnel() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const socket = netConnect(bundle.port, "127.0.0.1", () => socket.write(`CONNECT localhost:${upstream.port} HTTP/1.1\r\nHost: localhost:${upstream.port}\r\nProxy-Authorization: ${proxyAuth}\r\n\r\n`));
    socket.once("data", (chunk) => {
      if (!chunk.toString("latin1").startsWith("HTTP/1.1 200")) return reject(new Error(`CONNECT: ${chunk.toString("latin1").split("\r\n")[0]}`));
      const t1 = process.hrtime.bigint();
      const tls = tlsConnect({ socket, ca: caPem, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => {
        const t2 = process.hrtime.bigint();
        let answer = "";
        tls.on("data", (c) => (answer += c.toString("latin1")));
        tls.on("end", () => {
          if (!answer.startsWith("HTTP/1.1 200")) return reject(new Error(`in the tunnel: ${answer.split("\r\n")[0]}`));
          resolve({ handshake: t2 - t1, total: process.hrtime.bigint() - t0 });
        });
        tls.write(requestText);
      });
      tls.on("error", reject);
    });
    socket.on("error", reject);
  });
}

/** Requests per second for `seconds`, CONCURRENCY loops each awaiting `send()` in turn. */
async function throughput(send) {
  let done = 0;
  const end = Date.now() + SECONDS * 1000;
  const latencies = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        await send();
        latencies.push(process.hrtime.bigint() - t);
        done++;
      }
    }),
  );
  latencies.sort((a, b) => (a < b ? -1 : 1));
  return { rps: Math.round(done / SECONDS), requests: done, p50_ms: ms(quantile(latencies, 0.5)), p99_ms: ms(quantile(latencies, 0.99)) };
}

const collect = (res, resolve, reject) => {
  let text = "";
  res.on("data", (c) => (text += c));
  res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
};

// (1) New tunnels, one at a time (the first mints the leaf; it is reported apart).
const first = await newTunnel();
const tunnels = [];
for (let i = 0; i < NEW_TUNNELS; i++) tunnels.push(await newTunnel());
const handshakes = tunnels.map((t) => t.handshake).sort((a, b) => (a < b ? -1 : 1));
const totals = tunnels.map((t) => t.total).sort((a, b) => (a < b ? -1 : 1));

// (2) Requests inside kept-alive tunnels: an undici Client per concurrent agent, whose one connection is a
// tunnel opened once (CONNECT, TLS with the bundle's leaf) and reused for every request.
let tunnelsOpened = 0;
/** An admitted tunnel with TLS up, as undici's `connect` hook wants it. */
const openTunnel = (callback) => {
  tunnelsOpened++;
  const socket = netConnect({ port: bundle.port, host: "127.0.0.1", noDelay: true }, () => socket.write(`CONNECT localhost:${upstream.port} HTTP/1.1\r\nHost: localhost:${upstream.port}\r\nProxy-Authorization: ${proxyAuth}\r\n\r\n`));
  socket.once("data", (chunk) => {
    if (!chunk.toString("latin1").startsWith("HTTP/1.1 200")) return callback(new Error("CONNECT refused"), null);
    const tls = tlsConnect({ socket, ca: caPem, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => callback(null, tls));
    tls.on("error", (error) => callback(error, null));
  });
  socket.on("error", (error) => callback(error, null));
};
const tunnelClients = Array.from({ length: CONCURRENCY }, () => new Client(origin, { connect: (_options, callback) => openTunnel(callback), pipelining: 1, keepAliveTimeout: 60_000 }));
let next = 0;
const inTunnel = async () => {
  const client = tunnelClients[next++ % CONCURRENCY];
  const { statusCode, body: answer } = await client.request({ path: "/v1/refunds", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const text = await answer.text();
  if (statusCode !== 200) throw new Error(`${statusCode} ${text}`);
};
for (const client of tunnelClients) await client.request({ path: "/v1/refunds", method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }).then((r) => r.body.text());
tunnelsOpened = 0;
const keptAlive = { ...(await throughput(inTunnel)), tunnels_opened: tunnelsOpened };

// (3) Plain forward mode: absolute-form http to the proxy, kept-alive connections, the same tool.
const plainAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY, noDelay: true });
const plain = () =>
  new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: bundle.port, path: `http://localhost:${upstream.port}/v1/refunds`, method: "POST", agent: plainAgent, headers: { host: `localhost:${upstream.port}`, "proxy-authorization": proxyAuth, "content-type": "application/x-www-form-urlencoded", "content-length": body.length } }, (res) => collect(res, resolve, reject));
    req.on("error", reject);
    req.end(body);
  });
await plain();
const forward = await throughput(plain);

await Promise.all(tunnelClients.map((c) => c.close()));
plainAgent.destroy();
stopServers();

const result = {
  node: process.version,
  /** The machine's 1-minute load when the run ended: numbers from a busy machine are not comparable. */
  load_average: Math.round(loadavg()[0] * 100) / 100,
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  new_tunnel: {
    tunnels: NEW_TUNNELS,
    first_with_leaf_minting_ms: ms(first.total),
    tls_handshake_p50_ms: ms(quantile(handshakes, 0.5)),
    tls_handshake_p99_ms: ms(quantile(handshakes, 0.99)),
    connect_tls_request_p50_ms: ms(quantile(totals, 0.5)),
    connect_tls_request_p99_ms: ms(quantile(totals, 0.99)),
  },
  kept_alive_tunnel: keptAlive,
  plain_forward: forward,
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "https.json"), `${JSON.stringify(result, null, 2)}\n`);
const md = `# HTTPS interception beside plain forward mode

Node ${result.node}, load average ${result.load_average} at the end, ${CONCURRENCY} concurrent clients for ${SECONDS} s each; every request an allowed refund
(policy, durable audit, upstream call over TLS). From \`bench/https-bench.mjs\`.

| measure | value |
| --- | --- |
| new tunnel, the first (mints the leaf; the bundle's first upstream connection) | ${result.new_tunnel.first_with_leaf_minting_ms} ms |
| new tunnel: TLS handshake p50 / p99 | ${result.new_tunnel.tls_handshake_p50_ms} / ${result.new_tunnel.tls_handshake_p99_ms} ms |
| new tunnel: CONNECT + TLS + one request p50 / p99 | ${result.new_tunnel.connect_tls_request_p50_ms} / ${result.new_tunnel.connect_tls_request_p99_ms} ms |
| kept-alive tunnels | ${keptAlive.rps} req/s (p50 ${keptAlive.p50_ms} ms, p99 ${keptAlive.p99_ms} ms) |
| plain forward mode | ${forward.rps} req/s (p50 ${forward.p50_ms} ms, p99 ${forward.p99_ms} ms) |
`;
writeFileSync(join(root, "bench", "results", "https.md"), md);
process.stdout.write(md);
process.exit(0);
