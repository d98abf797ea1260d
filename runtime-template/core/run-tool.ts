// Runs an allowed request's plan — an exec command or one egress call — and turns what came back into an
// outcome: redirects as data, upstream errors, timeouts, bodies decoded, redacted and output-filtered.

import { gunzipSync, inflateSync, brotliDecompressSync } from "node:zlib";
import { EgressRefused, ResponseTooLarge, UpstreamTimeout, type Egress, type UpstreamResponse } from "../egress/egress.js";
import { runExec } from "../egress/exec-runner.js";
import type { ExecPlan, HttpRequestPlan, ToolModule } from "../contract/tool-module.js";
import { applyOutput } from "./output-filter.js";
import type { Outcome } from "./outcome.js";
import type { Redactor } from "./redact.js";

export interface ToolRunner {
  readonly egress: Egress;
  readonly redactor: Redactor;
}

export async function runPlan(runner: ToolRunner, tool: ToolModule, plan: HttpRequestPlan | ExecPlan, id: string, passUpstream: boolean): Promise<Outcome> {
  const { redactor } = runner;
  if (plan.kind === "exec") {
    try {
      const result = await runExec(plan);
      if (result.timedOut) return { status: "upstream_timeout", message: "the command did not finish in time", audit_id: id };
      const output = redactor.json({ exit_code: result.exitCode, stdout: result.stdout, stderr: result.stderr, truncated: result.truncated });
      return { status: "ok", result: output, audit_id: id };
    } catch {
      return { status: "upstream_error", message: "the command could not be started", audit_id: id };
    }
  }
  let response: UpstreamResponse;
  try {
    response = await runner.egress.send(plan, tool.egress!);
  } catch (error) {
    if (error instanceof UpstreamTimeout) return { status: "upstream_timeout", message: "the upstream did not answer in time", audit_id: id };
    if (error instanceof EgressRefused) return { status: "upstream_error", message: "the upstream address is not allowed", audit_id: id };
    if (error instanceof ResponseTooLarge) return { status: "upstream_error", message: "the upstream response is too large", audit_id: id };
    return { status: "upstream_error", message: "the upstream could not be reached", audit_id: id };
  }
  if (response.status >= 300 && response.status < 400) {
    // Redirects are never followed; the agent sees where it pointed, redacted.
    const location = response.headers.location;
    return { status: "ok", http_status: response.status, result: { location: redactor.text(String(location ?? "")) }, audit_id: id };
  }
  if (response.status >= 400 && !passUpstream) {
    return { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id };
  }
  let text: string;
  try {
    text = decode(response, plan.maxResponseBytes);
  } catch {
    return { status: "upstream_error", http_status: response.status, message: "the upstream response could not be decoded", audit_id: id };
  }
  let result: unknown;
  try {
    const parsed: unknown = JSON.parse(text);
    result = applyOutput(redactor.mayHoldSecret(text) ? redactor.json(parsed) : parsed, tool.output);
  } catch {
    result = redactor.text(text);
  }
  const upstream = passUpstream ? { upstream: { status: response.status, body: result } } : {};
  if (response.status >= 400) {
    return { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id, ...upstream };
  }
  return { status: "ok", http_status: response.status, result, audit_id: id, ...upstream };
}

/** The body as the reader would decode it: decompressed (within the size cap) and as UTF-8 text. */
function decode(response: UpstreamResponse, maxResponseBytes: number): string {
  const encoding = String(response.headers["content-encoding"] ?? "").toLowerCase();
  const limit = { maxOutputLength: maxResponseBytes };
  let bytes = response.body;
  if (encoding === "gzip" || encoding === "x-gzip") bytes = gunzipSync(bytes, limit);
  else if (encoding === "deflate") bytes = inflateSync(bytes, limit);
  else if (encoding === "br") bytes = brotliDecompressSync(bytes, limit);
  return bytes.toString("utf8");
}
