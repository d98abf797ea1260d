// A straightforward reference reading of SPEC sections 2–3, written independently of the compiler
// (it imports nothing from it): is an input valid for a tool, and does a rule match a request?
// Used to check the analyser's claims and, later, the generated decision code.

export type RawField = string | { type: string; optional?: boolean; default?: unknown; enum?: unknown[]; minimum?: number; maximum?: number; minLength?: number; maxLength?: number; pattern?: string; minItems?: number; maxItems?: number; items?: Omit<Extract<RawField, object>, "type" | "items"> };
export interface RawTool {
  tool: string;
  input?: Record<string, RawField>;
}
export interface RawRule {
  tool: string;
  when?: Record<string, unknown>;
}
export interface RawPolicy {
  policy: string;
  agents?: string[];
  allow?: RawRule[];
  deny?: RawRule[];
}
export interface Request {
  agent: string;
  tool: string;
  input: Record<string, unknown>;
  reason?: string;
}

interface Field {
  type: string;
  array: boolean;
  optional: boolean;
  default?: unknown;
  c: Record<string, unknown>;
  items: Record<string, unknown>;
}

function fieldsOf(tool: RawTool): Map<string, Field> {
  const out = new Map<string, Field>();
  for (const [name, raw] of Object.entries(tool.input ?? {})) {
    if (typeof raw === "string") {
      const optional = raw.endsWith("?");
      const type = optional ? raw.slice(0, -1) : raw;
      out.set(name, { type: type.replace("[]", ""), array: type.endsWith("[]"), optional, c: {}, items: {} });
    } else {
      out.set(name, {
        type: raw.type.replace("[]", ""),
        array: raw.type.endsWith("[]"),
        optional: raw.optional === true || raw.default !== undefined,
        default: raw.default,
        c: raw,
        items: (raw.items ?? {}) as Record<string, unknown>,
      });
    }
  }
  return out;
}

const length = (s: string) => Array.from(s).length;

function scalarOk(type: string, c: Record<string, unknown>, v: unknown): boolean {
  if (type === "string" && typeof v !== "string") return false;
  if (type === "boolean" && typeof v !== "boolean") return false;
  if (type === "number" && !(typeof v === "number" && Number.isFinite(v))) return false;
  if (type === "integer" && !(typeof v === "number" && Number.isInteger(v))) return false;
  if (Array.isArray(c.enum) && !c.enum.includes(v)) return false;
  if (typeof v === "number") {
    if (typeof c.minimum === "number" && v < c.minimum) return false;
    if (typeof c.maximum === "number" && v > c.maximum) return false;
  }
  if (typeof v === "string") {
    if (typeof c.minLength === "number" && length(v) < c.minLength) return false;
    if (typeof c.maxLength === "number" && length(v) > c.maxLength) return false;
    if (typeof c.pattern === "string" && !new RegExp(c.pattern, "u").test(v)) return false;
  }
  return true;
}

/** SPEC 2: all fields required unless optional; unknown fields rejected; values of the declared type and schema. */
export function inputIsValid(tool: RawTool, input: Record<string, unknown>): boolean {
  const fields = fieldsOf(tool);
  for (const key of Object.keys(input)) if (!fields.has(key)) return false;
  for (const [name, f] of fields) {
    if (!(name in input)) {
      if (f.optional) continue;
      return false;
    }
    const v = input[name];
    if (f.array) {
      if (!Array.isArray(v)) return false;
      if (typeof f.c.minItems === "number" && v.length < f.c.minItems) return false;
      if (typeof f.c.maxItems === "number" && v.length > f.c.maxItems) return false;
      if (!v.every((e) => scalarOk(f.type, f.items, e))) return false;
    } else if (!scalarOk(f.type, f.c, v)) return false;
  }
  return true;
}

export function policyGoverns(policy: RawPolicy, agent: string): boolean {
  return policy.agents === undefined || policy.agents.includes(agent);
}

/** SPEC 3: every condition holds. A condition on a field that is absent (and has no default) fails. */
export function ruleMatches(tool: RawTool, policy: RawPolicy, rule: RawRule, request: Request): boolean {
  if (rule.tool !== request.tool || !policyGoverns(policy, request.agent)) return false;
  const fields = fieldsOf(tool);
  for (const [key, cond] of Object.entries(rule.when ?? {})) {
    if (key === "require_reason") {
      if (cond === true && !(typeof request.reason === "string" && request.reason.length > 0 && request.reason.length <= 1000 && request.reason.trim().replace(/[\p{Cc}\p{Cf}\p{White_Space}]/gu, "") !== "")) return false;
      continue;
    }
    let name = key;
    let ops: Record<string, unknown>;
    if (!fields.has(key) && /^(max|min)_/.test(key) && fields.has(key.slice(4))) {
      name = key.slice(4);
      ops = { [key.slice(0, 3)]: cond };
    } else ops = cond as Record<string, unknown>;
    const value = name in request.input ? request.input[name] : fields.get(name)?.default;
    if (value === undefined) return false;
    const ignoreCase = (ops as Record<string, unknown>).ignore_case === true;
    for (const [op, arg] of Object.entries(ops)) {
      if (op === "ignore_case") continue;
      if (!(ignoreCase ? caselessOperatorHolds(op, arg, value) : operatorHolds(op, arg, value))) return false;
    }
  }
  return true;
}

/**
 * SPEC 3 `ignore_case: true`: text compared after folding case. The reference folds each code point with
 * toLowerCase, which agrees with Unicode simple case folding on the generators' (ASCII) alphabet;
 * regular expressions get the `i` flag.
 */
const fold = (s: string) => Array.from(s, (c) => c.toLowerCase()).join("");

function caselessOperatorHolds(op: string, arg: unknown, v: unknown): boolean {
  const list = (a: unknown) => (a as string[]).map(fold);
  switch (op) {
    case "equals":
      return fold(v as string) === fold(arg as string);
    case "in":
      return list(arg).includes(fold(v as string));
    case "not_in":
      return !list(arg).includes(fold(v as string));
    case "starts_with":
    case "not_starts_with":
    case "ends_with":
    case "not_ends_with":
      return operatorHolds(op, fold(arg as string), fold(v as string));
    case "matches":
      return new RegExp(arg as string, "iu").test(v as string);
    case "not_matches":
      return !new RegExp(arg as string, "iu").test(v as string);
    case "subset_of":
      return (v as string[]).every((e) => list(arg).includes(fold(e)));
    case "each_matches":
      return (v as string[]).every((e) => new RegExp(arg as string, "iu").test(e));
    default:
      return operatorHolds(op, arg, v);
  }
}

function operatorHolds(op: string, arg: unknown, v: unknown): boolean {
  switch (op) {
    case "min":
      return (v as number) >= (arg as number);
    case "max":
      return (v as number) <= (arg as number);
    case "equals":
      return v === arg;
    case "in":
      return (arg as unknown[]).includes(v);
    case "not_in":
      return !(arg as unknown[]).includes(v);
    case "starts_with":
      return (v as string).startsWith(arg as string);
    case "not_starts_with":
      return !(v as string).startsWith(arg as string);
    case "ends_with":
      return (v as string).endsWith(arg as string);
    case "not_ends_with":
      return !(v as string).endsWith(arg as string);
    case "matches":
      return new RegExp(arg as string, "u").test(v as string);
    case "not_matches":
      return !new RegExp(arg as string, "u").test(v as string);
    case "max_length":
      return length(v as string) <= (arg as number);
    case "subset_of":
      return (v as unknown[]).every((e) => (arg as unknown[]).includes(e));
    case "each_matches":
      return (v as string[]).every((e) => new RegExp(arg as string, "u").test(e));
    case "max_items":
      return (v as unknown[]).length <= (arg as number);
    default:
      throw new Error(`reference: unknown operator ${op}`);
  }
}
