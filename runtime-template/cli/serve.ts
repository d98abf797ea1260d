// `serve`: the HTTP server of SPEC section 5, started from its flags; SIGTERM drains it.

import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import { AgentsFileError, loadAgentsFile, type Principal } from "../credentials/agents-file.js";
import { DEFAULT_COMMIT_DELAY_MS } from "../audit/audit-log.js";
import { createHttpServer, SERVER_LIMIT_DEFAULTS } from "../http/server.js";
import { createRuntime } from "../runtime.js";
import { MissingSecretsError, WeakSecretsError } from "../credentials/secrets.js";
import { StateUnavailable } from "../state/state-store.js";
import { DEFAULT_MAX_PENDING_APPROVALS } from "../state/local-state-store.js";
import { LockHeld } from "../process/file-lock.js";
import { markDraining } from "../process/lifecycle-status.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { err, type Flags } from "./flags.js";

/** The numeric flags of `serve`: whole numbers in range, with safe defaults. */
const NUMBER_FLAGS = [
  { flag: "port", fallback: 8787, min: 0, max: 65535, unit: "port" },
  { flag: "body-limit", fallback: SERVER_LIMIT_DEFAULTS.bodyLimitBytes, min: 1, max: 2 ** 31, unit: "bytes" },
  { flag: "header-limit", fallback: SERVER_LIMIT_DEFAULTS.headerLimitBytes, min: 1024, max: 2 ** 20, unit: "bytes" },
  { flag: "request-timeout", fallback: SERVER_LIMIT_DEFAULTS.requestTimeoutMs, min: 100, max: 3_600_000, unit: "milliseconds" },
  { flag: "audit-commit-delay", fallback: DEFAULT_COMMIT_DELAY_MS, min: 0, max: 100, unit: "milliseconds" },
  { flag: "drain-timeout", fallback: 10_000, min: 0, max: 3_600_000, unit: "milliseconds" },
  { flag: "max-pending-approvals", fallback: DEFAULT_MAX_PENDING_APPROVALS, min: 1, max: 1_000_000, unit: "approvals per agent" },
] as const;

/** The numeric flags' values, or the message for the first malformed one. */
function numberFlags(flags: Flags): Map<string, number> | string {
  const values = new Map<string, number>();
  for (const { flag, fallback, min, max, unit } of NUMBER_FLAGS) {
    const text = flags.get(flag);
    const value = text === undefined ? fallback : /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) return `--${flag} (${unit}) must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`;
    values.set(flag, value);
  }
  return values;
}

export async function serve(config: CompiledConfig, flags: Flags): Promise<number> {
  const host = flags.get("host") ?? "127.0.0.1";
  const numbers = numberFlags(flags);
  if (typeof numbers === "string") {
    err(numbers);
    return 1;
  }
  const port = numbers.get("port")!;
  const limits = { bodyLimitBytes: numbers.get("body-limit")!, headerLimitBytes: numbers.get("header-limit")!, requestTimeoutMs: numbers.get("request-timeout")! };
  let principals: Principal[] | undefined;
  if (flags.has("agents")) {
    try {
      principals = loadAgentsFile(flags.get("agents")!);
    } catch (error) {
      err(error instanceof AgentsFileError ? `agents file: ${error.message}` : `cannot read the agents file ${flags.get("agents")}`);
      return 1;
    }
  } else {
    if (!isLoopback(host)) {
      err(`without --agents the server trusts the agent named in each request, so it listens on loopback only, not ${host}`);
      return 1;
    }
    err("warning: no --agents file: trusting the `agent` field of each request (loopback only)");
  }
  let runtime;
  try {
    runtime = await createRuntime(config, {
      auditFile: flags.get("audit"),
      secretsFile: flags.get("secrets-file"),
      state: flags.get("state"),
      auditCommitDelayMs: numbers.get("audit-commit-delay")!,
      maxPendingApprovals: numbers.get("max-pending-approvals")!,
      onLockWait: err,
    });
  } catch (error) {
    if (error instanceof MissingSecretsError) {
      err(`missing secrets: ${error.missing.join(", ")} (set them in the environment or in --secrets-file)`);
      return 1;
    }
    if (error instanceof WeakSecretsError) {
      err(`${error.message}; secrets are redacted by value, so they must be real credentials`);
      return 1;
    }
    if (error instanceof StateUnavailable || error instanceof LockHeld) {
      err(error.message);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === "ERR_ACCESS_DENIED") {
      err(`cannot start: the permission model denies ${(error as { resource?: string }).resource ?? "a file it needs"}; start with the flags \`sandbox-flags serve\` prints for the same options`);
      return 1;
    }
    err(`cannot start: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return 1;
  }
  const server = createHttpServer({ engine: runtime.engine, ...(principals ? { principals } : {}), ...limits, log: err });
  // Around the server's own handler, for the drain: requests in flight, by connection in the order they
  // came (a client may pipeline several), and the connections whose last answer says `Connection: close`.
  const inFlight = new Set<ServerResponse>();
  const pipelines = new Map<Socket, ServerResponse[]>();
  const closing = new WeakSet<Socket>();
  let draining = false;
  /** The connection closes after this answer; false when its headers are already out. */
  const closeAfter = (socket: Socket, res: ServerResponse): boolean => {
    if (res.headersSent) return false;
    res.setHeader("connection", "close");
    closing.add(socket);
    return true;
  };
  const handlers = server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    // Pipelined behind an answer that closes the connection: it is never answered, so it never runs.
    if (closing.has(socket)) return;
    let queue = pipelines.get(socket);
    if (queue === undefined) pipelines.set(socket, (queue = []));
    queue.push(res);
    inFlight.add(res);
    res.on("close", () => {
      inFlight.delete(res);
      const rest = pipelines.get(socket)?.filter((r) => r !== res) ?? [];
      if (rest.length === 0) pipelines.delete(socket);
      else pipelines.set(socket, rest);
    });
    // While draining, a busy connection's newest request is its last: its answer closes it.
    if (draining) closeAfter(socket, res);
    for (const handler of handlers) handler.call(server, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    err(`cannot listen on ${host}:${port}: ${error.code}`);
    process.exit(1);
  });
  const address = server.address();
  const shown = typeof address === "object" && address !== null ? address : { address: host, port };
  process.stdout.write(`keyrunner listening on http://${shown.address.includes(":") ? `[${shown.address}]` : shown.address}:${shown.port}\n`);
  const drainTimeoutMs = numbers.get("drain-timeout")!;
  return new Promise<number>((resolve) => {
    const drain = () => {
      if (draining) return;
      draining = true;
      markDraining(Date.now() + drainTimeoutMs);
      // Stop accepting; idle kept-alive connections close now, busy ones after their answer.
      server.close();
      server.closeIdleConnections();
      // Only the newest answer of each busy connection says `Connection: close`: an earlier one would
      // close the connection under the answers pipelined behind it, whose requests already ran.
      for (const [socket, queue] of pipelines) closeAfter(socket, queue.at(-1)!);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearInterval(poll);
        const cutting = inFlight.size > 0;
        // Whatever still runs past the deadline loses its connection; the closed audit and state
        // refuse its writes, and nothing is written once the locks are released.
        server.closeAllConnections();
        // The locks are released first; closing the upstream connections waits for requests still in
        // flight, which past the deadline the server does not wait for.
        const closed = runtime.close();
        const cutOff = new Promise<void>((next) => setTimeout(next, cutting ? 1000 : 60_000).unref());
        void Promise.race([closed, cutOff]).then(
          () => exit(0),
          () => exit(1),
        );
      };
      const exit = (code: number) => {
        resolve(code);
        // Handles such as pooled upstream connections must not keep a drained server alive.
        setTimeout(() => process.exit(code), 50).unref();
      };
      const deadline = setTimeout(() => {
        if (inFlight.size > 0) err(`drain timeout: ${inFlight.size} request(s) still in flight after ${drainTimeoutMs} ms are cut off`);
        finish();
      }, drainTimeoutMs);
      const poll = setInterval(() => inFlight.size === 0 && finish(), 10);
    };
    process.once("SIGTERM", drain);
    process.once("SIGINT", drain);
  });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}
