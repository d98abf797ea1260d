// `serve`: the HTTP server of SPEC section 5, started from its flags; SIGTERM drains it.

import { isIP } from "node:net";
import { AgentsFileError, loadAgentsFile, type Principal } from "../credentials/agents-file.js";
import { answeringHosts } from "../http/guards.js";
import { createMetricsServer } from "../http/metrics-server.js";
import { createHttpServer } from "../http/server.js";
import { createRuntime } from "../runtime.js";
import { MissingSecretsError, WeakSecretsError } from "../credentials/secrets.js";
import { StateUnavailable } from "../state/state-store.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { err, type Flags } from "./flags.js";

export async function serve(config: CompiledConfig, flags: Flags): Promise<number> {
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
      err(error instanceof AgentsFileError ? `agents file: ${error.message}` : `cannot read the agents file ${flags.string("agents")}`);
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
    runtime = createRuntime(config, { auditFile: flags.string("audit"), secretsFile: flags.string("secrets-file"), state: flags.string("state"), auditCommitDelayMs: flags.number("audit-commit-delay") });
  } catch (error) {
    if (error instanceof MissingSecretsError) {
      err(`missing secrets: ${error.missing.join(", ")} (set them in the environment or in --secrets-file)`);
      return 1;
    }
    if (error instanceof WeakSecretsError) {
      err(`${error.message}; secrets are redacted by value, so they must be real credentials`);
      return 1;
    }
    if (error instanceof StateUnavailable) {
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
  const allowedHosts = answeringHosts(host, flags.strings("allowed-host"));
  const metrics = metricsTokenSha256 !== undefined ? { tokenSha256: metricsTokenSha256 } : undefined;
  const server = createHttpServer({ engine: runtime.engine, ...(principals ? { principals } : {}), allowedHosts, ...(metrics ? { metrics } : {}), ...limits, log: err });
  if (metricsAddress !== undefined) {
    const metricsServer = createMetricsServer(runtime.engine.metrics);
    const listening = await new Promise<boolean>((resolve) => {
      metricsServer.once("error", () => resolve(false));
      metricsServer.listen(metricsAddress.port, metricsAddress.host, () => resolve(true));
    });
    if (!listening) {
      err(`cannot listen for metrics on ${metricsListen}`);
      await runtime.close();
      return 1;
    }
    metricsServer.unref();
  }
  let inFlight = 0;
  server.on("request", (_req, res) => {
    inFlight++;
    res.on("close", () => inFlight--);
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
  return new Promise<number>((resolve) => {
    const drain = () => {
      server.close();
      server.closeIdleConnections();
      const wait = () => (inFlight === 0 ? runtime.close().then(() => resolve(0)) : setTimeout(wait, 10));
      wait();
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
