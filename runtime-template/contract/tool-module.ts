// The contract between generated handlers (dist/generated) and the runtime that serves them.

export type Effect = "allow" | "deny";

export interface Decision {
  readonly effect: Effect;
  /** The one rule that decided, e.g. `policies/a.yaml#allow[0]`; absent for the default deny. */
  readonly rule?: string;
  /** A deny rule's reason, shown to the agent. */
  readonly reason?: string;
  readonly obligations?: Obligations;
}

/** What a decision sees besides the request: the server's deployment context and the clock. */
export interface DecisionEnv {
  /** `serve --context key=value`: fixed at start, never set or seen by the agent. */
  readonly context: Readonly<Record<string, string>>;
  /** The decision instant, epoch milliseconds. */
  readonly now: number;
}

/** For a request no rule allows: what failed, for each allow rule that governs this agent. */
export interface RuleFailure {
  readonly rule: string;
  readonly failed: readonly string[];
}

export interface Obligations {
  readonly approval?: { readonly expiresSeconds: number };
  readonly rateLimit?: { readonly max: number; readonly perSeconds: number };
  readonly budget?: { readonly field: string; readonly max: number; readonly perSeconds: number };
}

export type PreparedInput = { readonly input: Record<string, unknown>; readonly errors?: undefined } | { readonly errors: ValidationError[] };

export interface ValidationError {
  readonly path: string;
  readonly message: string;
}

/** Reads a secret by name; only request builders call it, and only for the secrets their tool names. */
export type SecretReader = (name: string) => string;

export interface HttpRequestPlan {
  readonly kind: "http";
  readonly method: string;
  readonly origin: string;
  /** Already percent-encoded, starting with `/`. */
  readonly path: string;
  /** Already encoded, without the leading `?`, or "" for none. */
  readonly query: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: { readonly contentType: string; readonly text: string };
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface ExecPlan {
  readonly kind: "exec";
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
}

export interface EgressBinding {
  readonly origin: string;
  readonly method: string;
  /** Matches exactly the paths this tool's builder can produce. */
  readonly path: RegExp;
}

/** Forward-proxy mode: how a stock client's HTTP request maps back to this tool's input. */
export interface ForwardRoute {
  readonly method: string;
  readonly origin: string;
  /** Anchored; one capture group per entry of `pathFields`. */
  readonly path: RegExp;
  readonly pathFields: readonly string[];
  readonly specificity: number;
  readonly query: ReadonlyArray<{ readonly name: string; readonly field?: string; readonly literal?: string; readonly secret?: true }>;
  readonly headers: ReadonlyArray<{ readonly name: string; readonly field?: string }>;
  readonly body?: {
    readonly encoding: "json" | "form";
    readonly slots: ReadonlyArray<{ readonly path: readonly string[]; readonly field?: string; readonly literal?: unknown; readonly secret?: true }>;
  };
}

export interface ToolModule<Input = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** The YAML file and line the tool came from. */
  readonly source: string;
  /** JSON Schema of the input, as agents see it. */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /** Agents with at least one allow rule for this tool ("*" for every agent). */
  readonly visibleTo: readonly string[];
  readonly requiresReason: boolean;
  /** Some allow rule for this tool needs a person's approval. */
  readonly requiresApproval: boolean;
  readonly secrets: readonly string[];
  readonly egress?: EgressBinding;
  /** Absent when the tool's templates cannot be reversed exactly (see KR4007). */
  readonly forward?: ForwardRoute;
  readonly output: { readonly pick: readonly string[]; readonly redact: readonly string[]; readonly redactCredentials?: boolean };
  /** Validates in place (applies defaults); returns the errors, or undefined when valid. */
  validate(input: unknown): ValidationError[] | undefined;
  /**
   * What policy, audit and the plan see: a copy of the input with `format` fields canonicalised, then
   * validated (defaults applied to the copy). The caller's object is never changed.
   */
  prepare(input: unknown): PreparedInput;
  decide(agent: string, input: Input, reason: string | undefined, env: DecisionEnv): Decision;
  /** For the default deny: the failed conditions of each allow rule that governs `agent` (absent in old bundles). */
  denialDetail?(agent: string, input: Input, reason: string | undefined, env: DecisionEnv): RuleFailure[];
  plan(input: Input, secret: SecretReader): HttpRequestPlan | ExecPlan;
}

export interface CompiledConfig {
  /** sha256 of the compiled configuration (the YAML sources, in order). */
  readonly configSha256: string;
  readonly tools: ReadonlyMap<string, ToolModule>;
  readonly secrets: readonly string[];
  /**
   * `build --shadow DIR`: a candidate config's generated decisions, decided beside these on every request
   * and never enforced — only recorded (audit `shadow`) and counted (`/metrics`) where they differ.
   */
  readonly shadow?: CompiledConfig;
  /** context.yaml's keys and values, and the keys some policy tests (each must be set at start). */
  readonly context?: {
    readonly declared: Readonly<Record<string, readonly string[]>>;
    readonly used: readonly string[];
    /** The keys each tool's rules test (one-shot commands ask only for the called tool's; absent in old bundles). */
    readonly usedBy?: Readonly<Record<string, readonly string[]>>;
    /** Some rule has a time window: decision records carry the instant decided at. */
    readonly timed: boolean;
  };
}
