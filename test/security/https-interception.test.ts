// HTTPS interception under attack, with raw sockets against the real bundle (serve --ca): every refusal of
// CONNECT and inside a tunnel asserts that the upstream received nothing (not even a TCP connection where
// nothing may be tunnelled) and what the audit holds. Also: upstream trust, the CA's files and constraint.

import { readFileSync, statSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyrunner } from "../support/cli.js";
import { basic, OTHER_TOKEN, rawConnect, readUntilClosed, startHttpsWorld, STRIPE_KEY, tlsOverTunnel, TOKEN, type HttpsWorld } from "../support/https-world.js";

let world: HttpsWorld;
const IDLE_MS = 1500;

beforeAll(async () => {
  world = await startHttpsWorld(["--tunnel-idle-timeout", String(IDLE_MS)]);
}, 90_000);

afterAll(async () => {
  await world?.stop();
});

const auth = () => basic("support-agent", TOKEN);
const localhost = () => `localhost:${world.upstream.port}`;
const refund = (amount: number, extra = "", host = localhost()) => {
  const body = `payment_intent=pi_raw&amount=${amount}`;
  return `POST /v1/refunds HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;
};
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const lastRecord = () => world.audit().at(-1)!;
/** The upstream's counters now, and a check that nothing reached it since. */
const untouched = () => {
  const received = world.upstream.received.length;
  const connections = world.upstream.connections;
  return () => {
    expect(world.upstream.received.length, "requests the upstream received").toBe(received);
    expect(world.upstream.connections, "connections the upstream accepted").toBe(connections);
  };
};

async function openTunnel(options: Parameters<typeof tlsOverTunnel>[2] = {}) {
  const answer = await rawConnect(world, localhost(), auth());
  expect(answer.status).toBe(200);
  return tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"), options);
}

describe("CONNECT refusals", () => {
  it("no credential, or a wrong one: 407 with Proxy-Authenticate, audited, nothing tunnelled", async () => {
    const nothing = untouched();
    for (const credential of [undefined, basic("support-agent", "wrong-token")]) {
      const answer = await rawConnect(world, localhost(), credential);
      expect(answer.status).toBe(407);
      expect(answer.head).toMatch(/\r\nproxy-authenticate: Basic realm="keyrunner"/i);
      expect((await readUntilClosed(answer.socket)).closed).toBe(true);
      expect(lastRecord()).toMatchObject({ agent: "(unauthenticated)", decision: "deny", status: "proxy_auth_required", input: { method: "CONNECT", target: localhost() } });
    }
    nothing();
  });

  it("a web page's CONNECT (Origin, Sec-Fetch-Site), even with the agent's credential, is refused: nothing tunnelled", async () => {
    const nothing = untouched();
    for (const header of ["Origin: https://evil.example\r\n", "Sec-Fetch-Site: cross-site\r\n"]) {
      const answer = await rawConnect(world, localhost(), auth(), header);
      expect(answer.status, header).toBe(403);
      const rest = await readUntilClosed(answer.socket);
      expect(rest.closed).toBe(true);
      expect(rest.text).toContain("requests from web pages are refused");
    }
    nothing();
  });

  it("a host, a port or an IP no tool of this agent declares, and an agent who sees no tool: 403, audited, nothing tunnelled", async () => {
    const nothing = untouched();
    const cases: Array<[string, string]> = [
      ["example.com:443", auth()],
      [`localhost:${world.upstream.port + 1}`, auth()],
      // the tools name `localhost`: its address is another origin, matched literally
      [`127.0.0.1:${world.upstream.port}`, auth()],
      ["localhost", auth()],
      [localhost(), basic("other-agent", OTHER_TOKEN)],
    ];
    for (const [authority, credential] of cases) {
      const answer = await rawConnect(world, authority, credential);
      expect(answer.status, authority).toBe(403);
      const { text } = await readUntilClosed(answer.socket);
      expect(JSON.parse(text)).toMatchObject({ error: { type: "permission_denied", audit_id: expect.any(String) } });
      expect(lastRecord()).toMatchObject({ decision: "deny", status: "connect_refused", input: { method: "CONNECT", target: authority } });
    }
    nothing();
  });

  it("a TLS server name (SNI) other than the CONNECT host fails the handshake, is audited, and reaches nothing", async () => {
    const nothing = untouched();
    const answer = await rawConnect(world, localhost(), auth());
    expect(answer.status).toBe(200);
    const error = await tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"), { servername: "api.stripe.com" }).then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 200));
    expect(world.audit().some((r) => r.status === "sni_mismatch" && r.input.target === `${localhost()} (TLS server name "api.stripe.com")`)).toBe(true);
    nothing();
  });

  it("an HTTP/2-only client (ALPN h2 alone) gets no session, and nothing it sends is read", async () => {
    const nothing = untouched();
    // ALPN offers http/1.1 alone: the handshake ends with the no_application_protocol alert
    const probe = await rawConnect(world, localhost(), auth());
    const refused = await tlsOverTunnel(probe.socket, join(world.caDir, "ca.pem"), { ALPNProtocols: ["h2"] }).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
    expect(refused).toBe("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
    const answer = await rawConnect(world, localhost(), auth());
    const session = http2Connect(`https://${localhost()}`, { createConnection: () => tlsConnect({ socket: answer.socket, ca: readFileSync(join(world.caDir, "ca.pem")), servername: "localhost", ALPNProtocols: ["h2"] }) });
    const failed = await new Promise<boolean>((resolve) => {
      session.on("error", () => resolve(true));
      session.on("close", () => resolve(true));
      const stream = session.request({ ":method": "POST", ":path": "/v1/refunds", "content-type": "application/x-www-form-urlencoded" });
      stream.on("error", () => resolve(true));
      stream.on("response", () => resolve(false));
      stream.end("payment_intent=pi_h2&amount=1");
    });
    expect(failed).toBe(true);
    session.destroy();
    nothing();
  });
});

describe("inside a tunnel", () => {
  it("several requests in one tunnel each go through policy: an allowed one executes, a denied one reaches nothing", async () => {
    const tls = await openTunnel();
    expect(tls.alpnProtocol).toBe("http/1.1");
    const mark = world.upstream.received.length;
    tls.write(refund(100));
    tls.write(refund(9000, "connection: close\r\n"));
    const { text } = await readUntilClosed(tls);
    expect(statuses(text)).toEqual([200, 403]);
    expect(world.upstream.since(mark).map((r) => [r.body, r.headers.authorization])).toEqual([["payment_intent=pi_raw&amount=100", `Bearer ${STRIPE_KEY}`]]);
  });

  it("a reason given on the CONNECT (X-KeyRunner-Reason) is the reason of each request inside that gives none", async () => {
    const answer = await rawConnect(world, localhost(), auth(), "X-KeyRunner-Reason: customer asked twice\r\n");
    const tls = await tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"));
    tls.write(refund(70));
    tls.write(refund(71, "x-keyrunner-reason: its own reason\r\nconnection: close\r\n"));
    expect(statuses((await readUntilClosed(tls)).text)).toEqual([200, 200]);
    const reasons = world.audit().filter((r) => r.decision === "allow" && [70, 71].includes(r.input.amount_cents)).map((r) => [r.input.amount_cents, r.reason]);
    expect(reasons).toEqual([[70, "customer asked twice"], [71, "its own reason"]]);
  });

  it("a request smuggled after an allowed one (in its body's bytes) is parsed as its own request and refused", async () => {
    const tls = await openTunnel();
    const mark = world.upstream.received.length;
    const smuggled = `POST /v1/charges HTTP/1.1\r\nHost: ${localhost()}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
    // one write: an allowed refund whose Content-Length ends before the second request's bytes
    tls.write(refund(200) + smuggled);
    const { text } = await readUntilClosed(tls);
    expect(statuses(text)).toEqual([200, 403]);
    expect(world.upstream.since(mark).map((r) => r.url)).toEqual(["/v1/refunds"]);
    expect(world.audit().filter((r) => r.status === "forward_refused" && r.input.target === `https://${localhost()}/v1/charges`)).toHaveLength(1);
  });

  it("Content-Length with Transfer-Encoding (the classic desync) is a 400 that reaches nothing", async () => {
    const tls = await openTunnel();
    const nothing = untouched();
    tls.write(`POST /v1/refunds HTTP/1.1\r\nHost: ${localhost()}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nPOST /v1/charges HTTP/1.1\r\nHost: ${localhost()}\r\n\r\n`);
    const { text } = await readUntilClosed(tls);
    expect(statuses(text)).toEqual([400]);
    nothing();
  });

  it("a Host other than the CONNECT host, a path no tool declares, a web page's Origin, an absolute target: refused, audited, nothing reached", async () => {
    const nothing = untouched();
    const cases: Array<[string, number, string | undefined]> = [
      [refund(100, "", "api.stripe.com"), 400, "host_mismatch"],
      [refund(100, "", `localhost:${world.upstream.port + 1}`), 400, "host_mismatch"],
      [`GET /v1/balance HTTP/1.1\r\nHost: ${localhost()}\r\n\r\n`, 403, "forward_refused"],
      [refund(100, "origin: https://evil.example\r\n"), 403, undefined],
      [`POST https://example.com/v1/refunds HTTP/1.1\r\nHost: ${localhost()}\r\ncontent-length: 0\r\n\r\n`, 400, "forward_refused"],
    ];
    for (const [request, status, audited] of cases) {
      const tls = await openTunnel();
      const before = world.audit().length;
      tls.write(request.replace("\r\n", "\r\nconnection: close\r\n"));
      const { text } = await readUntilClosed(tls);
      expect(statuses(text), request.split("\r\n")[0]).toEqual([status]);
      // A refused request's own record; an outcome record of an earlier test's allowed request goes out
      // with the next write (runtime.md, "Audit") and may land after `before`: outcomes are not counted.
      if (audited !== undefined) expect(world.audit().slice(before).filter((r) => r.decision !== "outcome").map((r) => r.status)).toEqual([audited]);
    }
    nothing();
  });

  it("the leaf names the CONNECT host, is signed by the CA, and the CA's constraint names only the config's hosts", async () => {
    const tls = await openTunnel();
    const leaf = tls.getPeerX509Certificate()!;
    tls.destroy();
    const ca = new X509Certificate(readFileSync(join(world.caDir, "ca.pem")));
    expect(leaf.subjectAltName).toBe("DNS:localhost");
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(ca.ca).toBe(true);
    const days = (Date.parse(ca.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366);
    const keyMode = statSync(join(world.caDir, "ca-key.pem")).mode & 0o777;
    expect(keyMode).toBe(0o600);
  });
});

describe("a tunnel held idle", () => {
  it("is closed when no TLS handshake comes", async () => {
    const answer = await rawConnect(world, localhost(), auth());
    expect(answer.status).toBe(200);
    const started = Date.now();
    expect((await readUntilClosed(answer.socket, IDLE_MS * 4)).closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 100);
  });

  it("is closed when the handshake is done but no request comes", async () => {
    const nothing = untouched();
    const idle = await openTunnel();
    const started = Date.now();
    expect((await readUntilClosed(idle, IDLE_MS * 4)).closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 100);
    nothing();
  });

  it("is closed after its last answer, and a request trickled in slowly (slowloris) is cut off and reaches nothing", async () => {
    const idle = await openTunnel();
    idle.write(refund(50));
    const after = await readUntilClosed(idle, IDLE_MS * 4);
    expect(statuses(after.text)).toEqual([200]);
    expect(after.closed).toBe(true);

    const nothing = untouched();
    const slow = await openTunnel();
    const request = refund(60);
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < request.length && !slow.destroyed) slow.write(request[sent++]!);
    }, 400);
    const cut = await readUntilClosed(slow, 15_000);
    clearInterval(drip);
    expect(cut.closed).toBe(true);
    expect(sent).toBeLessThan(request.length);
    nothing();
  }, 30_000);
});

describe("upstream trust and the CA's files", () => {
  it("an upstream whose certificate no trusted CA signed is a 502; verification is never off, so no request reaches it", async () => {
    const received = world.untrusted.received.length;
    const answer = await rawConnect(world, `127.0.0.1:${world.untrusted.port}`, auth());
    expect(answer.status).toBe(200);
    const tls = await tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"), { servername: "", checkServerIdentity: (_host, cert) => checkServerIdentity("127.0.0.1", cert) });
    const body = `{"note":"hi"}`;
    tls.write(`POST /v1/notes HTTP/1.1\r\nHost: 127.0.0.1:${world.untrusted.port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    const { text } = await readUntilClosed(tls);
    expect(statuses(text)).toEqual([502]);
    expect(world.untrusted.received.length).toBe(received);
  });

  it("ca init refuses to overwrite without --force, and replaces the CA with it", async () => {
    const before = readFileSync(join(world.caDir, "ca.pem"), "utf8");
    const refused = await keyrunner(["ca", "init", world.caDir, "--config", world.dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("already exist; pass --force to replace the CA");
    expect(readFileSync(join(world.caDir, "ca.pem"), "utf8")).toBe(before);
    const { mkdtempSync } = await import("node:fs");
    const other = mkdtempSync(join(world.dir, "ca-copy-"));
    expect((await keyrunner(["ca", "init", other, "--config", world.dir])).code).toBe(0);
    const forced = await keyrunner(["ca", "init", other, "--config", world.dir, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`may sign only for: 127.0.0.1, localhost`);
  });

  it("the CA key is in no answer, log or audit record", () => {
    const key = readFileSync(join(world.caDir, "ca-key.pem"), "utf8").split("\n").slice(1, -2).join("");
    const audit = readFileSync(join(world.dir, "audit.jsonl"), "utf8");
    for (const seen of [audit, world.server.stdout(), world.server.stderr()]) {
      expect(seen).not.toContain(key.slice(0, 32));
      expect(seen).not.toContain("PRIVATE KEY");
    }
  });
});
