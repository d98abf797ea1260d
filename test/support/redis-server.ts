// Real Redis processes on loopback for tests of the shared state store: a plain or TLS-only redis-server
// (certificates made here with openssl), an ACL user, and a master + replica + sentinels set. Suites that
// need a program this machine lacks are skipped with the reason printed, or fail when KR_REQUIRE_REDIS=1
// (as .ci/run sets it, so CI never passes by skipping them).

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "vitest";

export type RedisProgram = "redis-server" | "redis-sentinel" | "openssl";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether `program` is an executable file in one of PATH's folders. */
export function onPath(program: string, path = process.env.PATH ?? ""): boolean {
  return path.split(delimiter).some((dir) => {
    if (dir === "") return false;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why a suite needing `programs` cannot run here, or undefined when it can. */
export function missingReason(programs: readonly RedisProgram[], path = process.env.PATH ?? ""): string | undefined {
  const missing = programs.filter((p) => !onPath(p, path));
  if (missing.length === 0) return undefined;
  return `needs ${missing.join(" and ")}, not found on PATH (Debian: apt-get install ${missing.join(" ")})`;
}

/**
 * `describe` for a suite that needs real Redis programs: without them it is skipped and says why —
 * unless KR_REQUIRE_REDIS=1, where the missing program is a failing test.
 */
export function describeWithRedis(name: string, programs: readonly RedisProgram[], body: () => void): void {
  const reason = missingReason(programs);
  if (reason === undefined) return void describe(name, body);
  if (process.env.KR_REQUIRE_REDIS === "1") {
    describe(name, () => {
      it(`cannot run: ${reason}, and KR_REQUIRE_REDIS=1 forbids skipping it`, () => {
        throw new Error(`${name}: ${reason}`);
      });
    });
    return;
  }
  console.warn(`skipped "${name}": it ${reason}; set KR_REQUIRE_REDIS=1 to make this a failure`);
  describe.skip(name, body);
}

export interface RedisProcess {
  port: number;
  url: string;
  process: ChildProcess;
  output: () => string;
  /** Resolves when the output shows `pattern` (the process' own log), within `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

const started = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of started) child.kill("SIGKILL");
});

function run(program: string, args: string[], port: number, url: string): RedisProcess {
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let output = "";
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      started.delete(child);
      for (const l of listeners) l();
      resolve();
    }),
  );
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    port,
    url,
    process: child,
    output: () => output,
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(output) && child.exitCode === null && child.signalCode === null) return;
          listeners.delete(check);
          clearTimeout(timer);
          if (pattern.test(output)) resolve();
          else reject(new Error(`${program} exited before logging ${pattern}:\n${output}`));
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${program} did not log ${pattern} in ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    stop: () => end("SIGTERM"),
    kill9: () => end("SIGKILL"),
  };
}

// Each server keeps its files (a replication snapshot, for one) in a folder of its own, not the cwd.
const base = () => ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", mkdtempSync(join(tmpdir(), "kr-redis-"))];

/** A plain redis-server on a free loopback port. */
export async function startRedis(extra: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const redis = run("redis-server", ["--port", String(port), ...base(), ...extra], port, `redis://127.0.0.1:${port}`);
  await redis.waitFor(/Ready to accept connections/);
  return redis;
}

export interface Certificates {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a server certificate it signs, for 127.0.0.1 and localhost. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "kr-redis-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=KeyRunner test CA", "-keyout", at("ca.key"), "-out", at("ca.crt"));
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", at("server.key"), "-out", at("server.csr"));
  writeFileSync(at("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", at("server.csr"), "-CA", at("ca.crt"), "-CAkey", at("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", at("san.ext"), "-out", at("server.crt"));
  return { dir, ca: at("ca.crt"), cert: at("server.crt"), key: at("server.key") };
}

/** A redis-server that speaks TLS only (no plaintext port); clients are not asked for certificates. */
export async function startTlsRedis(certs: Certificates, extra: string[] = [], port?: number): Promise<RedisProcess> {
  port ??= await freePort();
  const tlsArgs = ["--port", "0", "--tls-port", String(port), "--tls-cert-file", certs.cert, "--tls-key-file", certs.key, "--tls-ca-cert-file", certs.ca, "--tls-auth-clients", "no"];
  const redis = run("redis-server", [...tlsArgs, ...base(), ...extra], port, `rediss://127.0.0.1:${port}`);
  await redis.waitFor(/Ready to accept connections/);
  return redis;
}

export interface SentinelSet {
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** `redis-sentinel://127.0.0.1:S1,127.0.0.1:S2/mymaster` */
  url: string;
  stop(): Promise<void>;
}

/**
 * A master, one replica and `count` sentinels watching them (quorum 1, master down after 1 s), all on
 * loopback; resolves when every sentinel knows the replica and the replica is in sync.
 */
export async function startSentinelSet(count = 2, name = "mymaster"): Promise<SentinelSet> {
  const master = await startRedis();
  const replica = await startRedis(["--replicaof", "127.0.0.1", String(master.port)]);
  await replica.waitFor(/MASTER <-> REPLICA sync: Finished with success/);
  const dir = mkdtempSync(join(tmpdir(), "kr-sentinel-"));
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        "protected-mode no",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 4000`,
        `sentinel parallel-syncs ${name} 1`,
        "",
      ].join("\n"),
    );
    sentinels.push(run("redis-sentinel", [conf], port, `redis://127.0.0.1:${port}`));
  }
  await Promise.all(sentinels.map((s) => s.waitFor(new RegExp(`\\+slave slave 127\\.0\\.0\\.1:${replica.port}`))));
  return {
    master,
    replica,
    sentinels,
    url: `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${name}`,
    stop: async () => {
      await Promise.all([...sentinels, replica, master].map((p) => p.kill9()));
    },
  };
}
