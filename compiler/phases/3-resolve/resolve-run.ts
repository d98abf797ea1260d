// Resolves a tool's `run` block: the URL's literal origin and templated path/query, headers, body,
// auth; or an exec command's argv and environment. Every template is parsed for its context.

import type { DiagnosticLog, Span } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument, DocumentPath } from "../1-load/config-document.js";
import { parseTemplate, type TemplateScope } from "./templates.js";
import type { ExecRun, HttpRun, Template, TemplateContext } from "./resolved-config.js";

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;

interface RawHttpRun {
  type: "http";
  method: string;
  url: string;
  auth?: { secret: string; scheme?: "bearer" | "basic" | "header" | "query"; name?: string };
  headers?: Record<string, string | number | boolean>;
  query?: Record<string, string | number | boolean>;
  body?: Record<string, unknown>;
  encoding?: "json" | "form";
  timeout_ms?: number;
  max_response_bytes?: number;
}

interface RawExecRun {
  type: "exec";
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeout_ms?: number;
  max_output_bytes?: number;
}

/** Collects the templates of one tool while its run block is resolved. */
export class TemplateCollector {
  readonly templates: Template[] = [];
  failed = false;
  constructor(
    readonly doc: ConfigDocument,
    readonly fields: ReadonlySet<string>,
    readonly log: DiagnosticLog,
  ) {}

  parse(text: string, context: TemplateContext, path: DocumentPath, place: string, span?: Span): Template | undefined {
    // Secrets never go into a URL path (logs, metrics, Location headers) or argv (visible in `ps`).
    const secretsAllowed = context !== "path" && context !== "argv";
    const scope: TemplateScope = { fields: this.fields, log: this.log, secretsAllowed, place };
    const template = parseTemplate(text, context, span ?? this.doc.spanAt(path), scope);
    if (template === undefined) this.failed = true;
    else this.templates.push(template);
    return template;
  }
}

export function resolveHttpRun(raw: RawHttpRun, t: TemplateCollector): HttpRun | undefined {
  const urlSpan = t.doc.spanAt(["run", "url"]);
  const url = splitUrl(raw.url, urlSpan, t.log);
  if (url === undefined) return undefined;
  const path = t.parse(url.path, "path", ["run", "url"], "the URL path", urlSpan);
  const query = new Map<string, Template>();
  for (const pair of url.query === "" ? [] : url.query.split("&")) {
    const [name = "", value = ""] = splitOnce(pair, "=");
    if (name.includes("${")) {
      t.log.report("KR3010", urlSpan, `templates are allowed in query values, not in the query name \`${name}\``);
      t.failed = true;
      continue;
    }
    const template = t.parse(value, "query", ["run", "url"], "the URL query", urlSpan);
    if (template !== undefined) query.set(decodeURIComponent(name), template);
  }
  for (const [name, value] of Object.entries(raw.query ?? {})) {
    const template = t.parse(String(value), "query", ["run", "query", name], `query value \`${name}\``);
    if (template !== undefined) query.set(name, template);
  }
  const headers = new Map<string, Template>();
  for (const [name, value] of Object.entries(raw.headers ?? {})) {
    const template = t.parse(String(value), "header", ["run", "headers", name], `header \`${name}\``);
    if (template !== undefined) headers.set(name, template);
  }
  const body = raw.body === undefined ? undefined : resolveBody(raw.body, ["run", "body"], t);
  const auth = raw.auth;
  if (auth !== undefined && (auth.scheme === "header" || auth.scheme === "query") && auth.name === undefined) {
    t.log.report("KR3022", t.doc.spanAt(["run", "auth", "scheme"]), `auth scheme \`${auth.scheme}\` needs a \`name\``, {
      hint: auth.scheme === "header" ? "e.g. `name: X-Api-Key`" : "e.g. `name: api_key`",
    });
    t.failed = true;
  }
  if (t.failed || path === undefined) return undefined;
  return {
    type: "http",
    method: raw.method,
    origin: url.origin,
    path,
    query,
    headers,
    body,
    ...(auth === undefined
      ? {}
      : { auth: { secret: auth.secret, scheme: auth.scheme ?? "bearer", ...(auth.name === undefined ? {} : { name: auth.name }) } }),
    encoding: raw.encoding ?? "json",
    timeoutMs: raw.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    maxResponseBytes: raw.max_response_bytes ?? DEFAULT_MAX_BYTES,
  };
}

function resolveBody(value: unknown, path: DocumentPath, t: TemplateCollector): unknown {
  if (typeof value === "string") return t.parse(value, "body", path, "the request body");
  if (Array.isArray(value)) return value.map((item, i) => resolveBody(item, [...path, i], t));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveBody(v, [...path, k], t)]));
  }
  return value;
}

export function resolveExecRun(raw: RawExecRun, t: TemplateCollector): ExecRun | undefined {
  const command: Template[] = [];
  raw.command.forEach((arg, i) => {
    const template = t.parse(arg, "argv", ["run", "command", i], "the command line");
    if (template === undefined) return;
    if (template.parts.length > 1 && template.parts.some((p) => p.kind === "field")) {
      t.log.report("KR3017", template.span, `argument \`${arg}\` mixes a template with text`);
      t.failed = true;
      return;
    }
    command.push(template);
  });
  const env = new Map<string, Template>();
  for (const [name, value] of Object.entries(raw.env ?? {})) {
    const template = t.parse(value, "env", ["run", "env", name], `environment variable \`${name}\``);
    if (template !== undefined) env.set(name, template);
  }
  if (raw.cwd?.includes("${")) {
    t.log.report("KR3010", t.doc.spanAt(["run", "cwd"]), "templates are not allowed in `cwd`");
    t.failed = true;
  }
  if (t.failed) return undefined;
  return {
    type: "exec",
    command,
    env,
    ...(raw.cwd === undefined ? {} : { cwd: raw.cwd }),
    timeoutMs: raw.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    maxOutputBytes: raw.max_output_bytes ?? DEFAULT_MAX_BYTES,
  };
}

interface SplitUrl {
  origin: string;
  path: string;
  query: string;
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Splits a tool URL into its literal origin, path template and query, reporting what is not allowed. */
function splitUrl(url: string, span: Span, log: DiagnosticLog): SplitUrl | undefined {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/.exec(url);
  if (match === null) {
    log.report("KR3014", span, `\`${url}\` is not an absolute URL`, { hint: "write it in full, e.g. https://api.example.com/v1/items" });
    return undefined;
  }
  const [, scheme = "", authority = "", path = "", query = "", fragment] = match;
  if (scheme.includes("${") || authority.includes("${")) {
    log.report("KR3011", span, `the origin of \`${url}\` contains a template`);
    return undefined;
  }
  if (fragment !== undefined) {
    log.report("KR3014", span, `\`${url}\` has a fragment (\`${fragment}\`), which is never sent to a server`);
    return undefined;
  }
  if (authority.includes("@")) {
    log.report("KR3014", span, `\`${url}\` carries credentials in the URL`, { hint: "use `auth: { secret: NAME }` instead" });
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}://${authority}/`);
  } catch {
    log.report("KR3014", span, `\`${url}\` has an invalid host \`${authority}\``);
    return undefined;
  }
  const protocol = scheme.toLowerCase();
  if (protocol === "http" && LOOPBACK_HOSTS.test(parsed.hostname)) {
    log.report("KR3013", span, `\`${url}\` uses plain http to the loopback host ${parsed.hostname}`);
  } else if (protocol !== "https") {
    log.report("KR3012", span, `\`${url}\` uses ${protocol}://, not https://`);
    return undefined;
  }
  return { origin: parsed.origin, path: path === "" ? "/" : path, query };
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

export type { RawExecRun, RawHttpRun };
