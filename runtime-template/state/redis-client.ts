// The state store's connection to Redis, through node-redis: one server or a Sentinel set, TLS verified
// against the trusted CAs, an ACL user, a database number, reconnection with a bounded back-off, and a
// deadline on every command. Every failure surfaces as StateUnavailable, so callers fail closed.
// node-redis is loaded on first use, so a bundle that keeps its state in a folder never evaluates it.

import type { RedisLocation } from "./redis-location.js";
import { StateUnavailable } from "./state-store.js";

export interface RedisConnectionOptions {
  /** The most a command may take, waiting for a connection included (default 2000 ms). */
  timeoutMs?: number;
  /** Where a change of reachability is reported (once per change; never a password). */
  log?: (line: string) => void;
}

export interface RedisConnection {
  /** Sends one command; its reply as RESP2 gives it (strings, numbers, arrays, null). */
  send(args: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** Waits 50 ms, 100 ms, … doubling up to 2 s between attempts (plus jitter), and never gives up. */
export function reconnectDelayMs(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 100);
}

/**
 * The CAs a `rediss://` connection trusts: Node's default store (its bundled roots plus NODE_EXTRA_CA_CERTS,
 * or the OpenSSL system store under `--use-openssl-ca`) and, where Node can read it, the system store.
 * Undefined means Node's default, which is what Node 20 can offer; verification is never turned off.
 */
export function trustedCas(): string[] | undefined {
  // node:tls is taken here, for a rediss:// store, not at every start.
  const read = (process.getBuiltinModule("node:tls") as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  if (read === undefined) return undefined;
  try {
    return [...new Set([...read("default"), ...read("system")])];
  } catch {
    return undefined;
  }
}

interface Sender {
  send(args: readonly string[], signal: AbortSignal): Promise<unknown>;
  close(): Promise<void>;
}

export function connectRedis(location: RedisLocation, options: RedisConnectionOptions = {}): RedisConnection {
  const timeoutMs = options.timeoutMs ?? 2000;
  const log = options.log ?? (() => {});
  // The first connection is silent; an outage is reported once, and so is the way back.
  let reachable: boolean | undefined;
  const report = (up: boolean, cause?: unknown) => {
    if (reachable === up) return;
    const first = reachable === undefined;
    reachable = up;
    if (up && first) return;
    log(
      up
        ? `state store ${location.display} is reachable again`
        : `state store ${location.display} is unreachable (${describe(cause)}); requests that need state answer 503 until it is back`,
    );
  };
  let closed = false;
  const sender = open(location, timeoutMs, report);
  // An unexpected failure to load or create the client leaves the store unavailable, not the process dead.
  sender.catch((error: unknown) => report(false, error));
  return {
    async send(args) {
      if (closed) throw new StateUnavailable("the state store is closed");
      const signal = AbortSignal.timeout(timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StateUnavailable(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([sender.then((s) => s.send(args, signal)), deadline]);
      } catch (error) {
        if (error instanceof StateUnavailable) throw error;
        // A reply error (wrong password, missing ACL permission, script error) or a connection error.
        throw new StateUnavailable(`redis refused the command: ${describe(error)}`);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      await sender.then((s) => s.close()).catch(() => {});
    },
  };
}

async function open(location: RedisLocation, timeoutMs: number, report: (up: boolean, cause?: unknown) => void): Promise<Sender> {
  const redis = await import("@redis/client");
  const ca = location.tls ? trustedCas() : undefined;
  const socket = (host: string, port: number) => ({
    host,
    port,
    connectTimeout: timeoutMs,
    reconnectStrategy: (retries: number) => reconnectDelayMs(retries),
    ...(location.tls ? { tls: true as const, ...(ca === undefined ? {} : { ca }), ...(isIpAddress(host) ? {} : { servername: host }) } : {}),
  });
  const credentials = {
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
  };
  if (location.kind === "server") {
    const node = location.nodes[0]!;
    const client = redis.createClient({ socket: socket(node.host, node.port), ...credentials, database: location.database, commandsQueueMaxLength: 10_000 });
    client.on("error", (error: unknown) => report(false, error));
    client.on("ready", () => report(true));
    // connect() retries by the strategy above until it succeeds; commands meanwhile wait in the queue
    // until their deadline, and one still queued at its deadline is dropped, never sent late.
    client.connect().catch((error: unknown) => report(false, error));
    return {
      send: (args, signal) => client.sendCommand([...args], { abortSignal: signal }),
      close: async () => {
        if (client.isOpen) client.destroy();
      },
    };
  }
  const first = location.nodes[0]!;
  const create = () => {
    const sentinel = redis.createSentinel({
      name: location.masterName!,
      sentinelRootNodes: location.nodes,
      nodeClientOptions: { socket: socket(first.host, first.port), ...credentials, database: location.database, commandsQueueMaxLength: 10_000 },
      sentinelClientOptions: { socket: socket(first.host, first.port) },
      masterPoolSize: 1,
      // Besides Sentinel's switch-master notices, look again every second.
      scanInterval: 1000,
      passthroughClientErrorEvents: true,
    });
    sentinel.on("error", (error: unknown) => report(false, error));
    return sentinel;
  };
  type Sentinel = ReturnType<typeof create>;
  let closing = false;
  let attempt = 0;
  let current: Sentinel | undefined;
  // Commands wait (within their deadline) for the first connection instead of failing at once.
  let markReady: (sentinel: Sentinel) => void = () => {};
  const ready = new Promise<Sentinel>((resolve) => (markReady = resolve));
  // A Sentinel object that gave up connecting cannot connect again: start over with a new one.
  const connect = (): void => {
    const sentinel = create();
    current = sentinel;
    sentinel.connect().then(
      () => {
        attempt = 0;
        report(true);
        markReady(sentinel);
      },
      async (error: unknown) => {
        report(false, error);
        current = undefined;
        await sentinel.destroy().catch(() => {});
        if (closing) return;
        setTimeout(connect, reconnectDelayMs(attempt++)).unref();
      },
    );
  };
  connect();
  return {
    async send(args, signal) {
      const sentinel = await ready;
      if (signal.aborted) throw new StateUnavailable(`no master of ${location.masterName} answered in time`);
      const reply = await sentinel.sendCommand(false, [...args], { abortSignal: signal });
      report(true);
      return reply;
    },
    async close() {
      closing = true;
      if (current?.isOpen) await current.destroy().catch(() => {});
    },
  };
}

const isIpAddress = (host: string): boolean => /^[\d.]+$/.test(host) || host.includes(":");

/** A short cause for logs and refusals: an error code or the first words of the message, no secret. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 120);
}
