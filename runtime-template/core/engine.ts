// The execute pipeline of SPEC section 5, shared by /v1/execute, the forward proxy, MCP, `keyrunner run`
// and the SDK: resolve the tool → validate → decide → obligations → (durable decision record) → run →
// outcome record. It returns a typed outcome and knows nothing of HTTP. A denied or invalid request stops
// before any plan is built: no secret is read, nothing is sent.

import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { requestText, type AuditEntry, type RecordFields } from "../audit/audit-record.js";
import { Egress, type Resolver } from "../egress/egress.js";
import { TemplateValueError } from "../egress/request-encoding.js";
import type { SecretStore } from "../credentials/secrets.js";
import { StateUnavailable, type StateStore } from "../state/state-store.js";
import type { CompiledConfig, DecisionEnv, ExecPlan, HttpRequestPlan, ToolModule, ValidationError } from "../contract/tool-module.js";
import { ApprovalDesk } from "./approval-desk.js";
import { keysTestedBy } from "./deployment-context.js";
import { agentMaySee, describeFailures } from "./explain.js";
import { Metrics } from "./metrics.js";
import { checkObligations, type ObligationVerdict } from "./obligations.js";
import type { ExecuteRequest, Outcome } from "./outcome.js";
import { createRedactor, digitsOfNumber, stringsOf, type Redactor } from "./redact.js";
import { RecordAllowance } from "./record-allowance.js";
import { runPlan, type ToolRunner } from "./run-tool.js";
import { decisionName, sameDecision, shadowDecision, type ShadowDecision } from "./shadow-decision.js";
import { redactCredentialJson } from "./redact-credentials.js";
import { unencodable } from "./unencodable-input.js";

export type { ExecuteRequest, Outcome } from "./outcome.js";

const NO_CONTEXT: Readonly<Record<string, string>> = Object.freeze({});
/** A config without context or time windows: its decision records say nothing more. */
const NOT_DECIDED_IN: { context?: Readonly<Record<string, string>>; decided_at?: string } = Object.freeze({});


/** Forward-proxy mode: client headers passed on (Accept, User-Agent), and the upstream's errors passed through. */
export interface ForwardOptions {
  headers: Array<readonly [string, string]>;
}

export interface EngineOptions {
  config: CompiledConfig;
  secrets: SecretStore;
  audit: AuditLog;
  state: StateStore;
  resolver?: Resolver;
  metrics?: Metrics;
  /** The deployment context (`serve --context key=value`), checked against the config at start. */
  context?: Readonly<Record<string, string>>;
  /** The decision clock, epoch milliseconds (default Date.now; tests inject one). */
  clock?: () => number;
  /** What a request no rule allows is told: the failed conditions of its own rules (default), or nothing more. */
  denialDetail?: DenialDetail;
}

export type DenialDetail = "none" | "conditions";

const NO_RULE_REASON = "no rule allows this request";
const OWN_SECRET_REASON = "the input holds one of this gateway's own secrets, which it never sends";

const MAX_LOGGED_NAME = 128;

/** The agent name of a forward-proxy refusal without a valid token. */
export const UNAUTHENTICATED = "(unauthenticated)";
const UNAUTHENTICATED_RECORDS_PER_SECOND = 20;

/** The most validation problems an answer lists (the rest are counted). */
const MAX_TOLD_ERRORS = 100;

const AUDIT_UNAVAILABLE = "the audit log cannot be written, so nothing is executed";
const STATE_UNAVAILABLE = "the state store for approvals and limits is unavailable, so nothing is executed";

/** What a request's record says beside its decision (approvers appear only in approval records). */
type RecordDetails = Omit<RecordFields, "decision" | "approver" | "context" | "decided_at">;

export class Engine {
  readonly metrics: Metrics;
  readonly redactor: Redactor;
  readonly egress: Egress;
  readonly #unauthenticatedRecords = new RecordAllowance(UNAUTHENTICATED_RECORDS_PER_SECOND);
  /** Listing and deciding approvals (the approvals API). */
  readonly approvals: ApprovalDesk;

  constructor(private readonly options: EngineOptions) {
    this.metrics = options.metrics ?? new Metrics();
    this.redactor = createRedactor(options.secrets.values());
    this.egress = new Egress(options.resolver);
    this.approvals = new ApprovalDesk({ ...options, redactor: this.redactor, metrics: this.metrics });
  }

  get config(): CompiledConfig {
    return this.options.config;
  }

  /** Whether the text holds one of this runtime's secrets whole, in any form the redactor knows. */
  holdsWholeSecret(text: string): boolean {
    return this.redactor.whole.text(text) !== text;
  }

  /** Why nothing can execute now (the audit log cannot be written), for /healthz; undefined while all can. */
  get unavailable(): string | undefined {
    return (this.options.audit as { unavailable?: string | undefined }).unavailable === undefined ? undefined : AUDIT_UNAVAILABLE;
  }

  /** Tools this agent may see: those with an allow rule that governs it. */
  visibleTools(agent: string): ToolModule[] {
    return [...this.options.config.tools.values()].filter((t) => agentMaySee(t, agent));
  }

  execute(request: ExecuteRequest, forward?: ForwardOptions): Promise<Outcome> {
    return this.options.audit.request(() => this.#execute(request, forward));
  }

  async #execute(request: ExecuteRequest, forward?: ForwardOptions): Promise<Outcome> {
    const id = randomUUID();
    const toolName = typeof request.tool === "string" ? request.tool : "";
    const tool = this.options.config.tools.get(toolName);
    const config = this.options.config.configSha256;
    const agent = request.agent;
    const shortName = toolName.length > MAX_LOGGED_NAME ? toolName.slice(0, MAX_LOGGED_NAME) : toolName;
    // A name no tool has came from the agent alone: one of this runtime's secrets sent as it is not recorded.
    const loggedTool = tool === undefined ? this.redactor.text(shortName) : shortName;
    const loggedReason = typeof request.reason === "string" ? this.redactor.text(request.reason) : undefined;
    /** What the records say the input was: the validated input (defaults applied) once there is one. */
    let loggedInput: unknown;
    /** The fields every record of this request shares, serialised once (the first record builds them). */
    let requestFields: string | undefined;
    // `build --shadow`: the candidate's decision, compared with the enforced one when the decision is recorded.
    const shadow = this.options.config.shadow === undefined ? undefined : shadowDecision(this.options.config.shadow, request, this.#decisionEnv());
    let enforced: ShadowDecision | undefined;
    const disagreement = (): ShadowDecision | undefined => {
      if (shadow === undefined || enforced === undefined || sameDecision(shadow, enforced)) return undefined;
      this.metrics.countShadowDisagreement(tool?.name ?? "(unknown)", enforced, shadow);
      return shadow;
    };
    /** Set once the policy is consulted: the decision records then say what it was decided in. */
    let decidedIn: { context?: Readonly<Record<string, string>>; decided_at?: string } = {};
    const record = (decision: AuditEntry["decision"], fields: RecordDetails, role: "decision" | "outcome") =>
      this.options.audit.appendRequestRecord(
        (requestFields ??= requestText({ id, config, agent: this.#loggedAgent(agent), tool: loggedTool, input: (loggedInput ??= this.redactor.json(request.input ?? null)), reason: loggedReason })),
        // Every field named, absent ones undefined (the record leaves them out): one shape, no spreads.
        {
          decision,
          rule: fields.rule,
          // An approval id the agent presented is its text: a secret pasted there is not kept either.
          approval_id: fields.approval_id === undefined ? undefined : this.redactor.text(fields.approval_id),
          status: fields.status,
          http_status: fields.http_status,
          duration_ms: fields.duration_ms,
          context: role === "decision" ? decidedIn.context : undefined,
          decided_at: role === "decision" ? decidedIn.decided_at : undefined,
          shadow: role === "decision" && shadow !== undefined ? disagreement() : undefined,
          detail: fields.detail,
        },
        role,
      );
    /** The request's last record, counted; a decision that is also the answer is durable before the answer. */
    const finish = async (decision: AuditEntry["decision"], fields: RecordDetails, outcome: Outcome, counted: string): Promise<Outcome> => {
      this.metrics.countRequest(tool?.name ?? "(unknown)", counted);
      // A request that is not executed is recorded without credential-shaped strings (the pattern set):
      // a token pasted into a denied issue body is not kept in the audit either.
      if (requestFields === undefined && decision !== "pending_approval") loggedInput = redactCredentialJson(loggedInput ?? this.redactor.json(request.input ?? null)).value;
      try {
        await record(decision, fields, "decision");
      } catch {
        this.metrics.countRequest(tool?.name ?? "(unknown)", "audit_failed");
        return { status: "unavailable", message: AUDIT_UNAVAILABLE, audit_id: id };
      }
      return outcome;
    };

    // Unknown tools and tools the agent may not see get the same answer.
    if (tool === undefined || !agentMaySee(tool, agent)) {
      enforced = { decision: "not_found" };
      return finish("deny", { status: "unknown_tool" }, { status: "not_found", message: "unknown tool", audit_id: id }, "not_found");
    }
    // Paths and messages can quote the agent's own keys and values: no answer carries a secret, even one it sent.
    const invalid = (errors: ValidationError[]) => {
      enforced = { decision: "invalid" };
      // What the agent sent itself stays as it sent it, but for a whole secret (see knownTo).
      const redactor = knownTo(this.redactor, request);
      // At most MAX_TOLD_ERRORS: 80,000 unknown keys in a 1 MB body made a 5 MB answer.
      const told = errors.slice(0, MAX_TOLD_ERRORS).map((e) => ({ path: redactor.text(e.path), message: redactor.text(e.message) }));
      if (errors.length > MAX_TOLD_ERRORS) told.push({ path: "(input)", message: `and ${errors.length - MAX_TOLD_ERRORS} more problems, not listed` });
      return finish("invalid", { status: "invalid" }, { status: "invalid", errors: told, audit_id: id }, "invalid");
    };
    if (request.reason !== undefined && typeof request.reason !== "string") return invalid([{ path: "reason", message: "must be a string" }]);
    if (request.input === null || typeof request.input !== "object" || Array.isArray(request.input)) return invalid([{ path: "(input)", message: "must be an object" }]);
    // A canonical (`format`) and defaulted copy: what is checked, audited and sent from here on; the
    // caller's object is never changed.
    const prepared = tool.prepare(request.input);
    if (prepared.errors !== undefined) return invalid(prepared.errors);
    const input = prepared.input;
    // A reason that is not a string was refused above.
    const why = request.reason as string | undefined;
    const unsendable = unencodable(input, why);
    if (unsendable !== undefined) return invalid(unsendable);
    loggedInput = this.redactor.json(input);
    // Always on, whatever the policy: a value from the agent that holds one of this runtime's own secrets
    // whole (in any form the redactor knows) is never sent anywhere. The record holds the input redacted.
    // A piece of one (12 bytes or more, not all of it) is not refused: a refusal would tell the agent that
    // its guess is a piece, and a guess extended a byte at a time would recover the secret. Such an input
    // runs as any other, is recorded redacted, and its answer leaves the agent's own text as it was sent
    // (Redactor#knowing), so an upstream that echoes it does not tell either.
    let runner: ToolRunner = this;
    const ownSecret = () => finish("deny", { status: "secret_in_input" }, { status: "denied", reason: OWN_SECRET_REASON, audit_id: id }, "secret_in_input");
    // (A whole secret is in the input only where a piece is: loggedInput differs.)
    if (loggedInput !== input && this.redactor.whole.json(input) !== input) return ownSecret();
    // The forward proxy passes some of the client's headers on (User-Agent, Accept): checked as the input.
    const forwardedPiece = forward !== undefined && forward.headers.some(([, value]) => this.redactor.text(value) !== value);
    if (forwardedPiece && forward.headers.some(([, value]) => this.holdsWholeSecret(value))) return ownSecret();
    // What this runtime would build from the agent's text, its secrets left out (a template may join two
    // fields, or a field and literal text, into one value that holds a piece the fields alone do not).
    // A whole secret built that way is refused as if sent whole; pieces are the agent's own text.
    const built = agentBuiltText(tool, input, this.redactor);
    const builtPiece = built.some((text) => this.redactor.text(text) !== text);
    if (builtPiece && built.some((text) => this.holdsWholeSecret(text))) return ownSecret();
    if (loggedInput !== input || forwardedPiece || builtPiece) {
      runner = { egress: this.egress, redactor: knownTo(this.redactor, request, input, forward, built), metrics: this.metrics };
    }

    // A server checked every key at start; in process (the SDK) a call checks its own tool's keys.
    const unset = this.#unsetContext(tool.name);
    if (unset.length > 0) {
      const message = `the rules of ${tool.name} test the context ${unset.join(", ")}, which was not given, so nothing is decided or executed`;
      return finish("deny", { status: "missing_context" }, { status: "unavailable", message, audit_id: id }, "missing_context");
    }
    const env = this.#decisionEnv();
    decidedIn = this.#decidedIn(env);
    const decision = tool.decide(agent, input as never, why, env);
    enforced = decisionName(decision);
    if (decision.effect === "deny") {
      if (decision.rule === undefined && tool.denialDetail !== undefined) {
        // The audit always holds the full explanation; the agent is told it unless the operator chose not.
        const detail = tool.denialDetail(agent, input as never, why, env);
        const told = this.options.denialDetail === "none" || detail.length === 0 ? NO_RULE_REASON : `${NO_RULE_REASON}: ${describeFailures(detail)}`;
        const denied: Outcome = { status: "denied", reason: told, ...(this.options.denialDetail === "none" ? {} : { failed: detail }), audit_id: id };
        return finish("deny", { status: "denied", detail }, denied, "denied");
      }
      const denied: Outcome = { status: "denied", reason: decision.reason ?? "denied by policy", ...(decision.rule ? { rule: decision.rule } : {}), audit_id: id };
      return finish("deny", { rule: decision.rule, status: "denied" }, denied, "denied");
    }
    if (request.approval_id !== undefined && typeof request.approval_id !== "string") return invalid([{ path: "approval_id", message: "must be a string" }]);

    const missing = this.options.secrets.missing(tool.secrets);
    if (missing.length > 0) {
      const message = `missing secrets: ${missing.join(", ")} (set them in the environment or the secrets file), so nothing is executed`;
      return finish("deny", { rule: decision.rule, status: "missing_secrets" }, { status: "unavailable", message, audit_id: id }, "missing_secrets");
    }
    let plan: HttpRequestPlan | ExecPlan;
    try {
      plan = tool.plan(input as never, (name) => this.options.secrets.read(name));
    } catch (error) {
      if (error instanceof TemplateValueError) return invalid([{ path: error.field, message: error.message }]);
      if (error instanceof URIError) return invalid([{ path: "(input)", message: "cannot be encoded for the request" }]);
      throw error;
    }
    if (forward !== undefined && plan.kind === "http") {
      const own = new Set(plan.headers.map(([name]) => name));
      plan = { ...plan, headers: [...plan.headers, ...forward.headers.filter(([name]) => !own.has(name))] };
    }

    const rule = decision.rule!;
    let approvalId: string | undefined;
    if (decision.obligations !== undefined) {
      const presented = typeof request.approval_id === "string" ? request.approval_id : undefined;
      let verdict: ObligationVerdict;
      try {
        verdict = await checkObligations(
          this.options.state,
          decision,
          { agent, tool: tool.name, input, ...(why === undefined ? {} : { reason: why }), ...(presented === undefined ? {} : { approvalId: presented }) },
          Date.now(),
        );
      } catch (error) {
        if (!(error instanceof StateUnavailable)) throw error;
        return finish("deny", { rule, status: "state_unavailable" }, { status: "unavailable", message: STATE_UNAVAILABLE, audit_id: id }, "state_unavailable");
      }
      switch (verdict.kind) {
        case "pending": {
          const pending: Outcome = { status: "pending_approval", approval_id: verdict.approval.id, expires_at: new Date(verdict.approval.expiresAt).toISOString(), audit_id: id };
          return finish("pending_approval", { rule, approval_id: verdict.approval.id, status: "pending_approval" }, pending, "pending_approval");
        }
        case "refused":
          return finish("deny", { rule, status: "approval_refused", approval_id: presented }, { status: "denied", reason: verdict.reason, rule, audit_id: id }, "approval_refused");
        case "rate_limited":
          return finish("deny", { rule, status: "rate_limited" }, { status: "rate_limited", retry_after_s: verdict.retryAfterSeconds, rule, audit_id: id }, "rate_limited");
        case "over_budget":
          return finish("deny", { rule, status: "over_budget" }, { status: "denied", reason: verdict.reason, rule, remaining: verdict.remaining, audit_id: id }, "over_budget");
        case "proceed":
          approvalId = verdict.approval?.id;
      }
    }

    // The decision record is durable before anything leaves this process.
    try {
      await record("allow", { rule, approval_id: approvalId }, "decision");
    } catch {
      this.metrics.countRequest(tool.name, "audit_failed");
      return { status: "unavailable", message: AUDIT_UNAVAILABLE, audit_id: id };
    }

    const started = performance.now();
    const outcome = await runPlan(runner, tool, plan, id, forward !== undefined);
    const duration = performance.now() - started;
    if (plan.kind === "http") this.metrics.observeUpstream(tool.name, duration / 1000);
    this.metrics.countRequest(tool.name, outcome.status);
    // The allow decision was durable before anything ran, so the request is in the audit whatever happens
    // next; its outcome record goes out with the next write instead of delaying the answer.
    const fields = { rule, status: outcome.status, http_status: "http_status" in outcome ? outcome.http_status : undefined, duration_ms: Math.round(duration * 1000) / 1000 };
    record("outcome", fields, "outcome").catch(() => this.metrics.countRequest(tool.name, "audit_failed"));
    return outcome;
  }

  /** Agent names as recorded, redacted (without an agents file the name is the agent's own text). */
  #loggedAgents = new Map<string, string>();

  #loggedAgent(agent: string): string {
    let logged = this.#loggedAgents.get(agent);
    if (logged === undefined) {
      logged = this.redactor.text(agent);
      // Bounded: names sent at random must not grow it for ever.
      if (this.#loggedAgents.size >= 1024) this.#loggedAgents.clear();
      this.#loggedAgents.set(agent, logged);
    }
    return logged;
  }

  #unsetContextByTool = new Map<string, readonly string[]>();

  /** The context keys `tool`'s rules test that this runtime was not given (none, on a server). */
  #unsetContext(tool: string): readonly string[] {
    let unset = this.#unsetContextByTool.get(tool);
    if (unset === undefined) {
      const given = this.options.context ?? NO_CONTEXT;
      unset = keysTestedBy(this.options.config, tool).filter((key) => !Object.hasOwn(given, key));
      this.#unsetContextByTool.set(tool, unset);
    }
    return unset;
  }

  #decisionEnv(): DecisionEnv {
    return { context: this.options.context ?? NO_CONTEXT, now: (this.options.clock ?? Date.now)() };
  }

  #decidedIn(env: DecisionEnv): { context?: Readonly<Record<string, string>>; decided_at?: string } {
    const declared = this.options.config.context;
    if (declared === undefined) return NOT_DECIDED_IN;
    return {
      ...(Object.keys(declared.declared).length > 0 ? { context: env.context } : {}),
      ...(declared.timed ? { decided_at: new Date(env.now).toISOString() } : {}),
    };
  }

  /** A forward-proxy request refused before any tool (CONNECT, an undeclared destination): audited. */
  async refuseForward(agent: string, method: string, target: string, status: string, tool = "(forward)"): Promise<string> {
    const id = randomUUID();
    this.metrics.countRequest(tool, status);
    // A client without a token can send refusals as fast as it likes: past a small rate they are counted
    // (in /metrics) but not each written, so it cannot grow the audit without bound.
    if (agent === UNAUTHENTICATED && !this.#unauthenticatedRecords.take(Date.now())) {
      this.metrics.countRequest(tool, "unaudited_unauthenticated");
      return id;
    }
    const input = { method: method.slice(0, 16), target: this.redactor.text(target.slice(0, 2048)) };
    await this.options.audit
      .append({ id, config: this.options.config.configSha256, agent: this.#loggedAgent(agent), tool, input, decision: status === "invalid" ? "invalid" : "deny", status })
      .catch(() => undefined);
    return id;
  }

  async close(): Promise<void> {
    await this.egress.close();
    await this.options.state.close();
  }
}

/**
 * The redactor for an answer to this request: the agent's own strings (its input as sent and as
 * prepared, its reason, the headers the forward proxy passes on) are left as they are where they hold a piece of a secret, never a whole one.
 */
function knownTo(redactor: Redactor, request: ExecuteRequest, prepared?: unknown, forward?: ForwardOptions, built: readonly string[] = []): Redactor {
  const strings = stringsOf(request.input);
  if (prepared !== undefined) strings.push(...stringsOf(prepared));
  strings.push(...built);
  if (forward !== undefined) for (const [, value] of forward.headers) strings.push(value);
  if (typeof request.reason === "string") strings.push(request.reason);
  // Also as this runtime encodes them into a request (a JSON string, JSON in a JSON string, a URL or a
  // form): an upstream echoing the body it got echoes those, and they are the agent's text as much.
  const known = new Set<string>();
  for (const text of strings) {
    // Numeric text also as its digits alone (the redactor reads an echoed number or numeric string so).
    const digits = digitsOfNumber(text);
    if (digits !== undefined) known.add(digits);
    const json = JSON.stringify(text).slice(1, -1);
    known.add(text).add(json).add(JSON.stringify(json).slice(1, -1));
    // A lone surrogate has no URL form (encodeURIComponent throws): such a value is refused anyway.
    if (!LONE_SURROGATE.test(text)) known.add(encodeURIComponent(text)).add(encodeURIComponent(text).replace(/%20/g, "+"));
  }
  return redactor.knowing([...known]);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Stands in for every secret where agentBuiltText plans a request, so no secret's text is in what it
 * builds: one no-break space, which no template context refuses (a NUL would fail a header's check, and
 * the plan with it) and no key holds — letters would join the agent's text next to them (a stand-in
 * starting with K completed "…Gh2" + "K" into the whole key, and refused it: an oracle at the last byte).
 */
const NO_SECRET = "\u00a0";

/**
 * The strings of the request this tool would build from the input, with every secret replaced by
 * NO_SECRET: its path and query (as sent and decoded), header values, body (as text and, for JSON or a
 * form, each value), or an exec tool's arguments and environment. Empty when the input cannot be planned.
 * A JSON body is left out, text and strings, when its text holds no form of a secret (`mayHoldSecret`:
 * the streams scanned in that text hold every string JSON.parse makes of it): none of it holds a piece.
 * A query or path without `%` is its own decoding.
 */
export function agentBuiltText(tool: ToolModule, input: unknown, redactor: Pick<Redactor, "mayHoldSecret">): string[] {
  let plan: HttpRequestPlan | ExecPlan;
  try {
    plan = tool.plan(input as never, () => NO_SECRET);
  } catch {
    return [];
  }
  if (plan.kind === "exec") return [...plan.argv, ...Object.values(plan.env)];
  const out = [plan.path];
  for (const [, value] of plan.headers) out.push(value);
  if (plan.path.includes("%")) out.push(decoded(plan.path));
  if (plan.query !== "") {
    out.push(plan.query);
    for (const value of new URLSearchParams(plan.query).values()) out.push(value);
  }
  if (plan.body !== undefined) {
    if (plan.body.contentType.includes("json")) {
      if (redactor.mayHoldSecret(plan.body.text)) {
        out.push(plan.body.text);
        try {
          out.push(...stringsOf(JSON.parse(plan.body.text)));
        } catch {
          // not JSON after all: its text is there
        }
      }
    } else if (plan.body.contentType.includes("x-www-form-urlencoded")) {
      out.push(plan.body.text);
      for (const value of new URLSearchParams(plan.body.text).values()) out.push(value);
    } else out.push(plan.body.text);
  }
  return out;
}

/** Percent-decoded text, or the text itself where it is not valid percent-encoding. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
