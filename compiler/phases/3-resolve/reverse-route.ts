// For forward-proxy mode: how an HTTP request a stock client sends maps back to a tool's input. A tool
// is reversible when every input field is sent in exactly one place, as a whole value, so that the
// request determines the input exactly; otherwise it is left out of forward mode, with the reason.

import { escapeLiteral } from "./regex-pattern.js";
import type { HttpRun, ResolvedTool, Template } from "./resolved-config.js";

export interface ForwardRoute {
  readonly method: string;
  readonly origin: string;
  /** Anchored pattern of the path, one capture group per entry of `pathFields`. */
  readonly path: string;
  readonly pathFields: readonly string[];
  /** Literal characters of the path: more literal text wins when two routes match one path. */
  readonly specificity: number;
  readonly query: readonly FieldSlot[];
  readonly headers: readonly FieldSlot[];
  readonly body?: { readonly encoding: "json" | "form"; readonly slots: readonly BodySlot[] };
}

/** A named place (query parameter, header) that carries a field, a fixed literal, or an injected secret. */
export interface FieldSlot {
  readonly name: string;
  readonly field?: string;
  readonly literal?: string;
  readonly secret?: true;
}

export interface BodySlot {
  readonly path: readonly string[];
  readonly field?: string;
  readonly literal?: unknown;
  readonly secret?: true;
}

export type ReverseResult = { ok: true; route: ForwardRoute } | { ok: false; reason: string };

const isTemplate = (v: unknown): v is Template => v !== null && typeof v === "object" && "parts" in v && "context" in v;

export function reverseRoute(tool: Omit<ResolvedTool, "forward">): ReverseResult | undefined {
  if (tool.run.type !== "http") return undefined;
  const run: HttpRun = tool.run;
  const seen = new Set<string>();
  const claim = (field: string, where: string): string | undefined => {
    if (seen.has(field)) return `field \`${field}\` is sent in more than one place (${where})`;
    seen.add(field);
    return undefined;
  };
  const stringish = (field: string, where: string): string | undefined => {
    const f = tool.fieldByName.get(field)!;
    return f.array ? `list field \`${field}\` in ${where} cannot be read back as a list` : claim(field, where);
  };

  // Path: literals escaped, each field one non-empty segment part; two fields must be separated by text.
  let pattern = "^";
  let specificity = 0;
  const pathFields: string[] = [];
  let previousWasField = false;
  for (const part of run.path.parts) {
    if (part.kind === "text") {
      pattern += escapeLiteral(part.text);
      specificity += part.text.length;
      previousWasField = false;
    } else if (part.kind === "field") {
      if (previousWasField) return { ok: false, reason: "two path templates touch, so the path cannot be split back into fields" };
      const problem = stringish(part.field, "the path");
      if (problem) return { ok: false, reason: problem };
      pattern += "([^/?#]+)";
      pathFields.push(part.field);
      previousWasField = true;
    } else return { ok: false, reason: "a secret in the path" };
  }
  pattern += "$";

  const slot = (name: string, template: Template, where: string): FieldSlot | string => {
    const parts = template.parts;
    if (parts.length === 0) return { name, literal: "" };
    if (parts.every((p) => p.kind === "text")) return { name, literal: parts.map((p) => (p.kind === "text" ? p.text : "")).join("") };
    if (parts.some((p) => p.kind === "secret")) return { name, secret: true };
    if (parts.length === 1 && parts[0]!.kind === "field") return stringish(parts[0]!.field, where) ?? { name, field: parts[0]!.field };
    return `${where} \`${name}\` mixes text and a template`;
  };
  const query: FieldSlot[] = [];
  for (const [name, template] of run.query) {
    const s = slot(name, template, "query parameter");
    if (typeof s === "string") return { ok: false, reason: s };
    query.push(s);
  }
  if (run.auth?.scheme === "query") query.push({ name: run.auth.name!, secret: true });
  const headers: FieldSlot[] = [];
  for (const [name, template] of run.headers) {
    const s = slot(name.toLowerCase(), template, "header");
    if (typeof s === "string") return { ok: false, reason: s };
    if (s.field !== undefined) headers.push(s);
  }

  let body: ForwardRoute["body"];
  if (run.body !== undefined) {
    const slots: BodySlot[] = [];
    const walk = (value: unknown, path: string[]): string | undefined => {
      if (isTemplate(value)) {
        const parts = value.parts;
        if (parts.some((p) => p.kind === "secret")) return void slots.push({ path, secret: true });
        if (parts.length === 1 && parts[0]!.kind === "field") {
          const field = parts[0]!.field;
          const problem = run.encoding === "form" ? stringish(field, "the form body") : claim(field, "the body");
          if (problem) return problem;
          return void slots.push({ path, field });
        }
        if (parts.every((p) => p.kind === "text")) return void slots.push({ path, literal: parts.map((p) => (p.kind === "text" ? p.text : "")).join("") });
        return `body value \`${path.join(".")}\` mixes text and a template`;
      }
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        if (run.encoding === "form" && path.length > 0) return "a nested value in a form body";
        for (const [key, inner] of Object.entries(value)) {
          const problem = walk(inner, [...path, key]);
          if (problem) return problem;
        }
        return undefined;
      }
      if (Array.isArray(value) && value.some((v) => isTemplate(v) || (v !== null && typeof v === "object"))) return `a list with templates at \`${path.join(".")}\``;
      return void slots.push({ path, literal: value });
    };
    const problem = walk(run.body, []);
    if (problem) return { ok: false, reason: problem };
    body = { encoding: run.encoding, slots };
  }

  const unsent = tool.fields.find((f) => !seen.has(f.name) && !f.optional);
  if (unsent !== undefined) return { ok: false, reason: `required field \`${unsent.name}\` is not sent in the request, so a client cannot provide it` };
  return { ok: true, route: { method: run.method, origin: run.origin, path: pattern, pathFields, specificity, query, headers, ...(body ? { body } : {}) } };
}
