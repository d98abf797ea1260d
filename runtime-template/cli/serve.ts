// `serve`: the HTTP server of SPEC section 5, started from its flags; SIGTERM drains it.

import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import { loadAgentsFile, type Principal } from "../credentials/agents-file.js";
import { answeringHosts } from "../http/guards.js";
import { createMetricsServer } from "../http/metrics-server.js";
import { createHttpServer, interceptionOf, type ServerOptions } from "../http/server.js";
import { owedAnswers } from "../http/owed-answers.js";
import { closeAfterRunning } from "../http/drain-connection.js";
import { createRuntime } from "../runtime.js";
import { systemErrorText } from "../process/system-error-text.js";
import { markDraining } from "../process/lifecycle-status.js";
import { announceListening, isPoolWorker, poolAuditFile, poolSlot, receiveCredentials } from "../process/pool-worker.js";
import { poolRefusal, runWorkerPool } from "../process/worker-pool.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { err, runtimePolicyOptions, type Flags } from "./flags.js";
import { agentsFileFailureText, startFailureText } from "./start-failure.js";
import { preloadEgress } from "../egress/egress.js";

export async function serve(config: CompiledConfig, flags: Flags): Promise<number> {
  const workers = flags.number("workers");
  const refusal = poolRefusal({ workers, state: flags.string("state") });
  if (refusal !== undefined) {
    err(refusal);
    return 1;
  }
  if (workers > 1 && !isPoolWorker()) return runWorkerPool(config, { workers, state: flags.string("state"), drainTimeoutMs: flags.number("drain-timeout"), log: err });
  const worker = isPoolWorker();
  if (worker) await receiveCredentials();
  const host = flags.string("host")!;
  const port = flags.number("port");
  const limits = { bodyLimitBytes: flags.number("body-limit"), headerLimitBytes: flags.number("header-limit"), requestTimeoutMs: flags.number("request-timeout") };
  const metricsTokenSha256 = flags.string("metrics-token-sha256");
  if (metricsTokenSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(metricsTokenSha256)) {
    err("--metrics-token-sha256 must be 64 hex digits (the sha256 of the token, as `keyrunner token` prints)");
    return 1;
  }
  const metricsListen = flags.string("metrics-listen");
  const metricsAddress = metricsListen === undefined ? undefined : listenAddress(metricsListen);
  if (metricsAddress === null) {
    err(`--metrics-listen must be HOST:PORT, not ${JSON.stringify(metricsListen)}`);
    return 1;
  }
  let principals: Principal[] | undefined;
  if (flags.has("agents")) {
    try {
      principals = loadAgentsFile(flags.string("agents")!);
    } catch (error) {
      err(agentsFileFailureText(flags.string("agents")!, error));
      return 1;
    }
  } else {
    if (!isLoopback(host)) {
      err(`without --agents the server trusts the agent named in each request, so it listens on loopback only, not ${host}`);
      return 1;
    }
    if (!worker || poolSlot() === 1) err("warning: no --agents file: trusting the `agent` field of each request (loopback only)");
  }
  let interception: ServerOptions["interception"];
  if (flags.has("ca")) {
    const { openCa, CaError } = await import("../interception/open-ca.js");
    try {
      const opened = await openCa(flags.string("ca")!, config);
      interception = { leaves: opened.leaves, idleTimeoutMs: flags.number("tunnel-idle-timeout") };
      if (opened.notAfter.getTime() - Date.now() < 30 * 86_400_000) err(`warning: the CA in ${flags.string("ca")} expires on ${opened.notAfter.toISOString()}`);
    } catch (error) {
      err(error instanceof CaError ? `--ca: ${error.message}` : `--ca: cannot load the CA: ${systemErrorText(error)}`);
      return 1;
    }
  }
  let runtime;
  try {
    runtime = await createRuntime(config, {
      auditFile: worker ? poolAuditFile(flags.string("audit")!, poolSlot()) : flags.string("audit"),
      secretsFile: flags.string("secrets-file"),
      state: flags.string("state"),
      auditCommitDelayMs: flags.number("audit-commit-delay"),
      maxPendingApprovals: flags.number("max-pending-approvals"),
      onLockWait: err,
      ...runtimePolicyOptions(flags),
    });
  } catch (error) {
    err(startFailureText(error, "serve"));
    return 1;
  }
  const allowedHosts = answeringHosts(host, flags.strings("allowed-host"));
  const metrics = metricsTokenSha256 !== undefined ? { tokenSha256: metricsTokenSha256 } : undefined;
  const server = createHttpServer({ engine: runtime.engine, ...(principals ? { principals } : {}), allowedHosts, ...(metrics ? { metrics } : {}), ...(interception ? { interception } : {}), ...limits, log: err });
  const tunnels = interceptionOf(server);
  if (metricsAddress !== undefined) {
    const metricsServer = createMetricsServer(runtime.engine.metrics, answeringHosts(metricsAddress.host, flags.strings("allowed-host")));
    const failed = await new Promise<Error | undefined>((resolve) => {
      metricsServer.once("error", resolve);
      metricsServer.listen(metricsAddress.port, metricsAddress.host, () => resolve(undefined));
    });
    if (failed !== undefined) {
      err(`cannot listen for metrics on ${metricsListen}: it ${systemErrorText(failed)}`);
      await runtime.close();
      return 1;
    }
    metricsServer.unref();
  }
  // Around the server's own handler, for the drain: the connections served, with the answers each still
  // owes in the order its requests came (owedAnswers: kept per connection by the HTTP server, as a client
  // may pipeline several), and the connections whose last answer says `Connection: close`. The set holds
  // connections, changed once per connection: a collection of responses changed on every request made
  // V8 promote each request's objects (http/owed-answers.ts).
  const connections = new Set<Socket>();
  const closing = new WeakSet<Socket>();
  let draining = false;
  const inFlight = (): number => {
    let owed = 0;
    for (const socket of connections) owed += owedAnswers(socket).length;
    return owed;
  };
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
    if (!connections.has(socket)) {
      connections.add(socket);
      socket.once("close", () => connections.delete(socket));
    }
    // While draining, a busy connection's newest request is its last: its answer closes it.
    if (draining) closeAfter(socket, res);
    for (const handler of handlers) handler.call(server, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    err(`cannot listen on ${host}:${port}: it ${systemErrorText(error)}`);
    process.exit(1);
  });
  const address = server.address();
  const shown = typeof address === "object" && address !== null ? address : { address: host, port };
  if (worker) announceListening(shown.address, shown.port);
  else process.stdout.write(`keyrunner listening on http://${shown.address.includes(":") ? `[${shown.address}]` : shown.address}:${shown.port}\n`);
  // undici is compiled once the server is ready rather than before (its lazy chunk), or by the first call.
  if ([...config.tools.values()].some((tool) => tool.egress !== undefined)) setImmediate(preloadEgress);
  const drainTimeoutMs = flags.number("drain-timeout");
  return new Promise<number>((resolve) => {
    const drain = () => {
      if (draining) return;
      draining = true;
      markDraining(Date.now() + drainTimeoutMs);
      // Stop accepting; idle kept-alive connections close now, busy ones after their answer.
      server.close();
      server.closeIdleConnections();
      tunnels?.drain();
      // Each busy connection: what runs is answered, the newest answer closes it, what waits never runs.
      for (const socket of connections) closeAfterRunning(socket, closing);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearInterval(poll);
        const cutting = inFlight() > 0;
        // Whatever still runs past the deadline loses its connection; the closed audit and state
        // refuse its writes, and nothing is written once the locks are released.
        server.closeAllConnections();
        tunnels?.closeAll();
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
        if (inFlight() + (tunnels?.inFlight ?? 0) > 0) err(`drain timeout: ${inFlight() + (tunnels?.inFlight ?? 0)} request(s) still in flight after ${drainTimeoutMs} ms are cut off`);
        finish();
      }, drainTimeoutMs);
      const poll = setInterval(() => inFlight() === 0 && (tunnels?.inFlight ?? 0) === 0 && finish(), 10);
    };
    process.once("SIGTERM", drain);
    process.once("SIGINT", drain);
  });
}

/** HOST:PORT (IPv6 in brackets), or null when it is not one. */
function listenAddress(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null || Number(match[3]) > 65535) return null;
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}
