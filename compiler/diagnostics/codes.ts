// The one registry of diagnostic codes. A code is never reused; retired codes stay listed as retired.
//
// KR1xxx load (files, YAML), KR2xxx validate (JSON Schema), KR3xxx resolve (names, types, templates,
// origins, regular expressions), KR4xxx analyse (rule soundness).

export type Severity = "error" | "warning";

export interface CodeInfo {
  readonly severity: Severity;
  /** A short title, used in docs/diagnostics.md. */
  readonly title: string;
  /** What to do about it, used when a diagnostic has no more specific hint. */
  readonly help?: string;
}

export const codes = {
  KR1001: { severity: "error", title: "YAML syntax error" },
  KR1002: {
    severity: "error",
    title: "config folder not found",
    help: "run `keyrunner check` in a folder with `tools/` and `policies/`, or name them with --tools and --policies",
  },
  KR1003: { severity: "warning", title: "no tools defined", help: "add a tool file such as tools/refund.yaml" },
  KR1004: {
    severity: "error",
    title: "config file or folder is not inside the config",
    help: "make it a regular file inside the config folder, or a symbolic link to one there; a tools/ or policies/ folder linking out of the config is not read (name such a folder with --tools or --policies)",
  },

  KR2001: { severity: "error", title: "required key missing" },
  KR2002: { severity: "error", title: "unknown key" },
  KR2003: { severity: "error", title: "value has the wrong type" },
  KR2004: { severity: "error", title: "invalid value" },

  KR3001: { severity: "error", title: "duplicate tool name", help: "tool names are unique across all tool files" },
  KR3002: { severity: "error", title: "duplicate policy name", help: "policy names are unique across all policy files" },
  KR3003: { severity: "error", title: "unknown tool" },
  KR3004: { severity: "error", title: "unknown input field" },
  KR3005: { severity: "error", title: "unknown operator" },
  KR3006: { severity: "error", title: "operator not valid for the field's type" },
  KR3007: { severity: "error", title: "invalid operator value" },
  KR3008: {
    severity: "error",
    title: "shorthand needs a numeric field",
    help: "`max_<field>` and `min_<field>` apply to number and integer fields; use the long form for others",
  },
  KR3009: { severity: "error", title: "template names an unknown field" },
  KR3010: {
    severity: "error",
    title: "malformed template",
    help: "templates are `${field}` for an input field or `${secrets.NAME}` for a secret; write `$${` for a literal `${`",
  },
  KR3011: {
    severity: "error",
    title: "templated origin",
    help: "scheme, host and port are literal; templates are allowed in path segments and query values only",
  },
  KR3012: {
    severity: "error",
    title: "origin is not https",
    help: "use an https:// URL; plain http:// is accepted only for loopback hosts (127.0.0.1, ::1, localhost)",
  },
  KR3013: {
    severity: "warning",
    title: "plain http to a loopback host",
    help: "fine for local development; use https:// for anything that leaves this machine",
  },
  KR3014: { severity: "error", title: "invalid URL" },
  KR3015: {
    severity: "error",
    title: "secret in a place the agent can read back",
    help: "secrets may appear in `auth`, header, query and body values of http tools and `env` of exec tools, never in a URL path or a command argument",
  },
  KR3016: { severity: "error", title: "invalid secret name", help: "secret names match ^[A-Z][A-Z0-9_]*$, e.g. STRIPE_API_KEY" },
  KR3017: {
    severity: "error",
    title: "template must fill a whole argv element",
    help: "exec arguments are passed without a shell; use a separate element, e.g. [\"--id\", \"${id}\"]",
  },
  KR3018: { severity: "error", title: "invalid regular expression" },
  KR3019: {
    severity: "error",
    title: "regular expression cannot be analysed",
    help: "back-references, look-arounds, word boundaries and anchors other than a leading `^` / trailing `$` cannot be decided; rewrite the pattern without them",
  },
  KR3020: {
    severity: "error",
    title: "super-linear regular expression",
    help: "the pattern can backtrack for a time that grows faster than the input (ReDoS); remove the ambiguity or anchor it with ^",
  },
  KR3021: { severity: "error", title: "inconsistent input field definition" },
  KR3022: { severity: "error", title: "auth scheme needs a `name`" },
  KR3023: { severity: "error", title: "budget sums a field that is not numeric" },
  KR3024: {
    severity: "error",
    title: "regular expression too large to compile",
    help: "the runtime runs every pattern as a deterministic automaton (linear in the input) of at most 2000 states; shorten bounded repetitions such as `[ab]{16}` after an open-ended part, or split the pattern into several conditions",
  },
  KR3025: {
    severity: "error",
    title: "malformed context file",
    help: "context.yaml is `context:` followed by each key with the list of its values, e.g. `environment: [development, staging, production]`",
  },
  KR3026: { severity: "error", title: "unknown context key", help: "context keys are declared in context.yaml at the config root" },
  KR3027: { severity: "error", title: "value not declared for the context key" },
  KR3028: {
    severity: "error",
    title: "malformed time window",
    help: "a window is `time: { days: [mon, tue, wed, thu, fri], between: \"09:00-17:30\", timezone: Europe/Berlin }`",
  },
  KR3029: { severity: "error", title: "unknown time zone", help: "use an IANA time zone name such as Europe/Berlin, America/New_York or UTC" },

  KR4001: { severity: "error", title: "unreachable rule" },
  KR4002: { severity: "error", title: "overlapping rules" },
  KR4003: { severity: "warning", title: "no rule allows this tool", help: "add an allow rule, or remove the tool" },
  KR4004: { severity: "warning", title: "condition always holds", help: "remove the condition, or tighten it" },
  KR4005: { severity: "warning", title: "input field never used", help: "use the field in a template, or remove it" },
  KR4007: {
    severity: "warning",
    title: "tool left out of forward-proxy mode",
    help: "send every input field in exactly one place as a whole value (a path segment, a query value, a header or a body value), or call this tool through /v1/execute",
  },
  KR4006: {
    severity: "error",
    title: "constraint too complex to decide",
    help: "simplify the regular expressions or length limits on this field",
  },
  KR4008: {
    severity: "error",
    title: "budget sums a field that may be negative",
    help: "a negative amount would refill the budget; add `minimum: 0` to the field or `min: 0` to the rule's conditions on it",
  },
  KR4009: {
    severity: "warning",
    title: "case-sensitive comparison on an email or hostname field",
    help: "mail and DNS compare domains without regard to case; add `ignore_case: true` to the condition",
  },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof codes;
