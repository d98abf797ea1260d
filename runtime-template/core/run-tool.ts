// Runs an allowed request's plan — an exec command or one egress call — and turns what came back into an
// outcome: redirects as data, upstream errors, timeouts, bodies decoded, redacted and output-filtered.

import { EgressRefused, ResponseTooLarge, UpstreamTimeout, type Egress, type UpstreamResponse } from "../egress/egress.js";
import { runExec } from "../egress/exec-runner.js";
import type { ExecPlan, HttpRequestPlan, ToolModule } from "../contract/tool-module.js";
import type { Outcome } from "./outcome.js";
import { REDACTED, type Redactor } from "./redact.js";
import { readUpstreamBody } from "./upstream-body.js";
import { redactCredentialJson } from "./redact-credentials.js";

export interface ToolRunner {
  readonly egress: Egress;
  readonly redactor: Redactor;
  /** Counts credential-shaped strings replaced by `output.redact_credentials`. */
  readonly metrics?: { countCredentialsRedacted(tool: string, count: number): void };
}

export async function runPlan(runner: ToolRunner, tool: ToolModule, plan: HttpRequestPlan | ExecPlan, id: string, passUpstream: boolean): Promise<Outcome> {
  const { redactor } = runner;
  if (plan.kind === "exec") {
    try {
      const result = await runExec(plan);
      if (result.timedOut) return { status: "upstream_timeout", message: "the command did not finish in time", audit_id: id };
      let output = redactor.json({ exit_code: result.exitCode, stdout: result.stdout, stderr: result.stderr, truncated: result.truncated });
      if (tool.output.redactCredentials === true) {
        const cleaned = redactCredentialJson(output);
        if (cleaned.count > 0) runner.metrics?.countCredentialsRedacted(tool.name, cleaned.count);
        output = cleaned.value;
      }
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
    return { status: "ok", http_status: response.status, result: { location: redactedLocation(redactor, String(response.headers.location ?? "")) }, audit_id: id };
  }
  if (response.status >= 400 && !passUpstream) {
    return { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id };
  }
  const read = readUpstreamBody(response, {
    maxResponseBytes: plan.maxResponseBytes,
    redactor,
    output: tool.output,
    onCredentialsRedacted: (count) => runner.metrics?.countCredentialsRedacted(tool.name, count),
  });
  if (!read.ok) return { status: "upstream_error", http_status: response.status, message: read.message, audit_id: id };
  const result = read.value;
  if (!passUpstream) return { status: "ok", http_status: response.status, result, audit_id: id };
  const upstream = { status: response.status, body: result };
  if (response.status >= 400) {
    return { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id, upstream };
  }
  return { status: "ok", http_status: response.status, result, audit_id: id, upstream };
}

/**
 * A Location header as the agent is shown it. Header values arrive one character per byte, so a
 * non-ASCII key sent as its UTF-8 bytes reads as other characters; read as UTF-8 too, and where that
 * reading holds a form the whole value is withheld.
 */
function redactedLocation(redactor: Redactor, location: string): string {
  const asUtf8 = Buffer.from(location, "latin1").toString("utf8");
  if (asUtf8 !== location && redactor.text(asUtf8) !== asUtf8) return REDACTED;
  return redactor.text(location);
}
