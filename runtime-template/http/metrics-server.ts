// `serve --metrics-listen HOST:PORT`: /metrics on an address of its own (for a scraper on a private
// network), so that the agents' port does not tell what tools, agents and traffic there are.

import { createServer, type Server } from "node:http";
import type { Metrics } from "../core/metrics.js";
import { guardRefusal } from "./guards.js";
import { notFound, send } from "./respond.js";

/** Guarded like the main port: a web page (its Origin, or a rebound Host) cannot read the metrics either. */
export function createMetricsServer(metrics: Metrics, allowedHosts: ReadonlySet<string>): Server {
  return createServer((req, res) => {
    const refusal = guardRefusal(req, allowedHosts, false);
    if (refusal !== undefined) return send(res, refusal.status, refusal.body);
    if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) return send(res, 200, metrics.render(), "text/plain; version=0.0.4");
    const missing = notFound();
    send(res, missing.status, missing.body);
  });
}
