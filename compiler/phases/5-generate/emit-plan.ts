// The request a tool sends, as a TypeScript expression per template: each input value is encoded for
// its context (path segment, query value, header, JSON or form body, argv) and inserted as data.

import { escapeLiteral } from "../3-resolve/regex-pattern.js";
import type { ExecRun, HttpRun, ResolvedTool, Template, TemplatePart } from "../3-resolve/resolved-config.js";

const literal = (value: unknown) => JSON.stringify(value);

function partExpression(part: TemplatePart, encode: (field: string) => string): string {
  if (part.kind === "text") return literal(part.text);
  if (part.kind === "secret") return `secret(${literal(part.secret)})`;
  return encode(part.field);
}

/** A string-valued template: its parts joined; `undefined` when it is exactly one absent field. */
function stringTemplate(template: Template, encode: (field: string) => string, tool: ResolvedTool): string {
  const only = template.parts.length === 1 ? template.parts[0] : undefined;
  if (only?.kind === "field" && tool.fieldByName.get(only.field)?.optional) {
    return `input.${only.field} === undefined ? undefined : ${encode(only.field)}`;
  }
  if (template.parts.length === 0) return '""';
  return template.parts.map((p) => partExpression(p, encode)).join(" + ");
}

const asText = (field: string) => `text(input.${field})`;

/** A body value keeps its JSON type when it is exactly one template. */
function bodyValue(value: unknown): string {
  if (value !== null && typeof value === "object" && "parts" in value && "context" in value) {
    const template = value as Template;
    const only = template.parts.length === 1 ? template.parts[0] : undefined;
    if (only?.kind === "field") return `input.${only.field}`;
    if (only?.kind === "secret") return `secret(${literal(only.secret)})`;
    return template.parts.length === 0 ? '""' : template.parts.map((p) => partExpression(p, asText)).join(" + ");
  }
  if (Array.isArray(value)) return `[${value.map(bodyValue).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `${literal(k)}: ${bodyValue(v)}`).join(", ")} }`;
  }
  return literal(value);
}

export function httpPlan(run: HttpRun, tool: ResolvedTool): string {
  const path = run.path.parts.map((p) => partExpression(p, (f) => `pathSegment(${literal(f)}, input.${f})`)).join(" + ") || '"/"';
  const query = [...run.query].map(([name, t]) => `[${literal(name)}, ${stringTemplate(t, asText, tool)}]`);
  const headers = [...run.headers].map(([name, t]) => `[${literal(name.toLowerCase())}, header(${literal(name)}, ${stringTemplate(t, asText, tool)})]`);
  if (run.auth !== undefined) {
    const value = `secret(${literal(run.auth.secret)})`;
    if (run.auth.scheme === "bearer") headers.push(`["authorization", bearer(${value})]`);
    else if (run.auth.scheme === "basic") headers.push(`["authorization", basic(${value})]`);
    else if (run.auth.scheme === "header") headers.push(`[${literal(run.auth.name!.toLowerCase())}, header(${literal(run.auth.name)}, ${value})]`);
    else query.push(`[${literal(run.auth.name)}, ${value}]`);
  }
  let body = "undefined";
  if (run.body !== undefined) {
    body =
      run.encoding === "form"
        ? `formBody([${Object.entries(run.body as Record<string, unknown>).map(([k, v]) => `[${literal(k)}, ${bodyValue(v)}]`).join(", ")}])`
        : `jsonBody(${bodyValue(run.body)})`;
  }
  return [
    "{",
    `kind: "http",`,
    `method: ${literal(run.method)},`,
    `origin: ${literal(run.origin)},`,
    `path: ${path},`,
    `query: queryString([${query.join(", ")}]),`,
    `headers: definedPairs([${headers.join(", ")}]),`,
    `body: ${body},`,
    `timeoutMs: ${run.timeoutMs},`,
    `maxResponseBytes: ${run.maxResponseBytes},`,
    "}",
  ].join("\n");
}

export function execPlan(run: ExecRun, tool: ResolvedTool): string {
  const argv = run.command.map((t) => {
    const only = t.parts.length === 1 ? t.parts[0] : undefined;
    if (only?.kind === "field") return `argvValue(${literal(only.field)}, input.${only.field}, ${tool.fieldByName.get(only.field)?.allowDash === true})`;
    return t.parts.length === 0 ? '""' : t.parts.map((p) => partExpression(p, asText)).join(" + ");
  });
  const env = [...run.env].map(([name, t]) => `${literal(name)}: ${t.parts.length === 0 ? '""' : t.parts.map((p) => partExpression(p, asText)).join(" + ")}`);
  return [
    "{",
    `kind: "exec",`,
    `argv: [${argv.join(", ")}],`,
    `env: { ${env.join(", ")} },`,
    ...(run.cwd === undefined ? [] : [`cwd: ${literal(run.cwd)},`]),
    `timeoutMs: ${run.timeoutMs},`,
    `maxOutputBytes: ${run.maxOutputBytes},`,
    "}",
  ].join("\n");
}

/** A regular expression matching exactly the paths the builder can produce (fields fill non-empty segments). */
export function pathPattern(run: HttpRun): string {
  return `^${run.path.parts.map((p) => (p.kind === "text" ? escapeLiteral(p.text) : "[^/?#]+")).join("")}$`;
}
