// The resolved model: tools with typed input fields and parsed templates, rules with typed conditions.

import type { Span } from "../../diagnostics/diagnostic.js";
import type { InputFormat } from "../../../runtime-template/contract/canonical-format.js";
import type { DfaTable } from "../../../runtime-template/contract/dfa-match.js";
import type { ReverseResult } from "./reverse-route.js";

export type { InputFormat };

export type ScalarType = "string" | "number" | "integer" | "boolean";
export type Scalar = string | number | boolean;

/** Element or value constraints from a tool's input schema. */
export interface ValueConstraints {
  readonly enum?: readonly Scalar[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: AnalysablePattern;
}

export interface InputField extends ValueConstraints {
  readonly name: string;
  readonly type: ScalarType;
  readonly array: boolean;
  readonly optional: boolean;
  readonly default?: unknown;
  readonly description?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly items?: ValueConstraints;
  readonly allowDash: boolean;
  /** Canonicalised before validation and policy (each item of a list); SPEC section 2. */
  readonly format?: InputFormat;
  readonly span: Span;
}

/** A regular expression checked to be analysable, with its search language and the automaton that runs it. */
export interface AnalysablePattern {
  /** As written (search semantics, like RegExp#test with the `u` flag). */
  readonly source: string;
  /** `iu` for a case-insensitive condition (`ignore_case: true`); the language and the matcher honour it. */
  readonly flags: "u" | "iu";
  /** An anchor-free expression whose full matches are exactly the strings `source` finds a match in. */
  readonly language: string;
  /** The minimal DFA of `language`: what the runtime runs instead of a backtracking RegExp. */
  readonly matcher: DfaTable;
}

export type TemplatePart =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "field"; readonly field: string }
  | { readonly kind: "secret"; readonly secret: string };

export type TemplateContext = "path" | "query" | "header" | "body" | "argv" | "env";

export interface Template {
  readonly parts: readonly TemplatePart[];
  readonly context: TemplateContext;
  readonly span: Span;
}

export interface HttpRun {
  readonly type: "http";
  readonly method: string;
  /** `scheme://host[:port]`, literal. */
  readonly origin: string;
  readonly path: Template;
  readonly query: ReadonlyMap<string, Template>;
  readonly headers: ReadonlyMap<string, Template>;
  readonly body: unknown;
  readonly auth?: { readonly secret: string; readonly scheme: "bearer" | "basic" | "header" | "query"; readonly name?: string };
  readonly encoding: "json" | "form";
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface ExecRun {
  readonly type: "exec";
  readonly command: readonly Template[];
  readonly env: ReadonlyMap<string, Template>;
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
}

export interface ResolvedTool {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly span: Span;
  readonly fields: readonly InputField[];
  readonly fieldByName: ReadonlyMap<string, InputField>;
  readonly run: HttpRun | ExecRun;
  readonly templates: readonly Template[];
  /** Input fields some template reads. */
  readonly usedFields: ReadonlySet<string>;
  readonly secrets: readonly string[];
  readonly output: { readonly pick: readonly string[]; readonly redact: readonly string[]; readonly redactCredentials?: true };
  /** How a stock client's request maps back to the input in forward-proxy mode; undefined for exec tools. */
  readonly forward: ReverseResult | undefined;
}

export type Operator =
  | "min"
  | "max"
  | "equals"
  | "in"
  | "not_in"
  | "starts_with"
  | "not_starts_with"
  | "ends_with"
  | "not_ends_with"
  | "matches"
  | "not_matches"
  | "max_length"
  | "subset_of"
  | "each_matches"
  | "max_items"
  | "no_credentials";

/** One pattern of the credential set (runtime-template/contract/credential-patterns.ts), analysable. */
export interface CredentialCheck {
  readonly id: string;
  readonly description: string;
  readonly pattern: AnalysablePattern;
}

export type Condition =
  | ConditionBase<"min" | "max" | "max_length" | "max_items", number>
  | ConditionBase<"equals", Scalar>
  | ConditionBase<"in" | "not_in" | "subset_of", readonly Scalar[]>
  | ConditionBase<"starts_with" | "not_starts_with" | "ends_with" | "not_ends_with", string>
  | ConditionBase<"matches" | "not_matches" | "each_matches", AnalysablePattern>
  | ConditionBase<"no_credentials", readonly CredentialCheck[]>;

interface ConditionBase<O extends Operator, V> {
  readonly field: string;
  readonly operator: O;
  readonly value: V;
  /** Set on a `context.<key>` condition: `field` is then the context key, not an input field. */
  readonly context?: true;
  /** `ignore_case: true` on a string condition: compared under Unicode simple case folding (RegExp `iu`). */
  readonly ignoreCase?: boolean;
  /** How the condition was written, for messages: `max_amount_cents: 5000` or `min: 6000`. */
  readonly written: string;
  readonly span: Span;
}

export type Effect = "allow" | "deny";

/**
 * `time: { days, between, timezone }`: the instants whose wall-clock time in `timezone` falls on one of
 * `days` (the day a window starts) within [start, end) minutes of that day; a window whose end is not after
 * its start wraps past midnight into the next day (docs/policy-semantics.md).
 */
export interface TimeWindow {
  /** 0 = Monday … 6 = Sunday, sorted, unique. */
  readonly days: readonly number[];
  readonly startMinute: number;
  /** Exclusive; 1440 for "24:00". */
  readonly endMinute: number;
  readonly timezone: string;
  /** Local minute-of-week ranges [from, to) (0 = Monday 00:00), sorted, merged, within [0, 10080). */
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  readonly written: string;
  readonly span: Span;
}

export interface ResolvedRule {
  /** `policies/a.yaml#allow[0]` */
  readonly id: string;
  readonly policy: string;
  readonly effect: Effect;
  readonly tool: string;
  /** Agent names, or "all" when the policy names none. */
  readonly agents: readonly string[] | "all";
  readonly conditions: readonly Condition[];
  /** Conditions on `context.<key>` (each `field` is the key), string operators over the declared values. */
  readonly contextConditions: readonly Condition[];
  readonly window?: TimeWindow;
  readonly requireReason: boolean;
  readonly reason?: string;
  readonly approval?: { readonly expiresSeconds: number };
  readonly rateLimit?: { readonly max: number; readonly perSeconds: number };
  readonly budget?: { readonly field: string; readonly max: number; readonly perSeconds: number };
  /** Where the budget's `sum` was written. */
  readonly budgetSpan?: Span;
  readonly span: Span;
  /** Span of the policy's `agents` key, or of the rule when the policy has none. */
  readonly agentsSpan: Span;
}

export interface ResolvedPolicy {
  readonly name: string;
  readonly file: string;
  readonly agents: readonly string[] | "all";
  readonly rules: readonly ResolvedRule[];
}

export interface ResolvedConfig {
  readonly sources: ReadonlyMap<string, string>;
  readonly tools: ReadonlyMap<string, ResolvedTool>;
  readonly policies: readonly ResolvedPolicy[];
  readonly rules: readonly ResolvedRule[];
  /** context.yaml: each key with its declared values (empty when the config has no context file). */
  readonly context: ReadonlyMap<string, readonly string[]>;
}
