// Forward-proxy mode (SPEC section 5): an absolute-form request from a stock client is matched to a
// tool's route and mapped back to that tool's input. Anything the route does not declare — another
// destination, an extra query or body field — is refused; the client's credentials are never used.

import type { ForwardRoute, ToolModule, ValidationError } from "../contract/tool-module.js";

export interface RouteMatch {
  tool: ToolModule;
  route: ForwardRoute;
  captures: string[];
}

/** The tool whose route takes this method and target; the scheme is the tool's own (http or https). */
export function matchRoute(tools: Iterable<ToolModule>, method: string, target: URL): RouteMatch | undefined {
  let best: RouteMatch | undefined;
  for (const tool of tools) {
    const route = tool.forward;
    if (route === undefined || route.method !== method) continue;
    // The host is matched literally (`localhost` is not 127.0.0.1) with the same explicit port; the
    // scheme is not: a client sends plain http to the proxy, and the upstream is called over the tool's own.
    const origin = new URL(route.origin);
    if (origin.hostname !== target.hostname || origin.port !== target.port) continue;
    const match = route.path.exec(target.pathname);
    if (match === null) continue;
    if (best === undefined || route.specificity > best.route.specificity) best = { tool, route, captures: match.slice(1) };
  }
  return best;
}

type Field = { type: string; array: boolean };

function fieldOf(tool: ToolModule, name: string): Field {
  const schema = (tool.inputSchema as { properties: Record<string, { type: string; items?: { type: string } }> }).properties[name]!;
  return schema.type === "array" ? { type: schema.items!.type, array: true } : { type: schema.type, array: false };
}

/** A string from a path, query, header or form value, read as the field's type when it is one. */
function fromText(field: Field, text: string): unknown {
  if (field.type === "integer" && /^-?(0|[1-9]\d{0,15})$/.test(text)) return Number(text);
  if (field.type === "number" && /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return Number(text);
  if (field.type === "boolean" && (text === "true" || text === "false")) return text === "true";
  return text;
}

export interface MappedRequest {
  input?: Record<string, unknown>;
  errors?: ValidationError[];
}

export function inputFromRequest(match: RouteMatch, target: URL, headers: Record<string, string | string[] | undefined>, body: Buffer): MappedRequest {
  const { tool, route } = match;
  const input: Record<string, unknown> = {};
  const errors: ValidationError[] = [];
  const set = (name: string, value: unknown) => Object.defineProperty(input, name, { value, enumerable: true, writable: true, configurable: true });

  route.pathFields.forEach((name, i) => {
    try {
      set(name, fromText(fieldOf(tool, name), decodeURIComponent(match.captures[i]!)));
    } catch {
      errors.push({ path: name, message: "is not valid percent-encoding in the path" });
    }
  });

  const seen = new Set<string>();
  for (const [name, value] of target.searchParams) {
    const slot = route.query.find((q) => q.name === name);
    if (slot === undefined) errors.push({ path: `query.${name}`, message: "is not a parameter of this tool" });
    else if (seen.has(name)) errors.push({ path: `query.${name}`, message: "is given more than once" });
    else if (slot.field !== undefined) set(slot.field, fromText(fieldOf(tool, slot.field), value));
    else if (slot.literal !== undefined && value !== slot.literal) errors.push({ path: `query.${name}`, message: `must be ${JSON.stringify(slot.literal)}` });
    seen.add(name);
  }

  for (const slot of route.headers) {
    const value = headers[slot.name];
    if (typeof value === "string" && slot.field !== undefined) set(slot.field, fromText(fieldOf(tool, slot.field), value));
  }

  const contentType = String(headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (route.body === undefined) {
    if (body.length > 0) errors.push({ path: "(body)", message: "this tool takes no request body" });
  } else if (body.length > 0 && route.body.encoding === "form") {
    if (contentType !== "application/x-www-form-urlencoded") errors.push({ path: "(body)", message: "must be application/x-www-form-urlencoded" });
    else {
      const formSeen = new Set<string>();
      for (const [name, value] of new URLSearchParams(body.toString("utf8"))) {
        const slot = route.body.slots.find((s) => s.path.length === 1 && s.path[0] === name);
        if (slot === undefined) errors.push({ path: name, message: "is not a field of this tool" });
        else if (formSeen.has(name)) errors.push({ path: name, message: "is given more than once" });
        else if (slot.field !== undefined) set(slot.field, fromText(fieldOf(tool, slot.field), value));
        else if (slot.literal !== undefined && value !== String(slot.literal)) errors.push({ path: name, message: `must be ${JSON.stringify(slot.literal)}` });
        formSeen.add(name);
      }
    }
  } else if (body.length > 0) {
    if (contentType !== "application/json") errors.push({ path: "(body)", message: "must be application/json" });
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        errors.push({ path: "(body)", message: "malformed JSON" });
      }
      if (parsed !== undefined) readJsonBody(parsed, [], route.body.slots, set, errors);
    }
  }
  return errors.length > 0 ? { errors } : { input };
}

function readJsonBody(
  value: unknown,
  path: string[],
  slots: NonNullable<ForwardRoute["body"]>["slots"],
  set: (name: string, value: unknown) => void,
  errors: ValidationError[],
): void {
  const here = slots.find((s) => s.path.length === path.length && s.path.every((p, i) => p === path[i]));
  if (here !== undefined) {
    if (here.field !== undefined) set(here.field, value);
    else if (here.literal !== undefined && JSON.stringify(value) !== JSON.stringify(here.literal)) errors.push({ path: path.join("."), message: `must be ${JSON.stringify(here.literal)}` });
    return;
  }
  const isParent = slots.some((s) => s.path.length > path.length && path.every((p, i) => s.path[i] === p));
  if (isParent && value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) readJsonBody(inner, [...path, key], slots, set, errors);
    return;
  }
  errors.push({ path: path.length === 0 ? "(body)" : path.join("."), message: "is not a field of this tool" });
}

/** The error shape stock SDKs raise from: `error: { type, message }` and a top-level `message`. */
export function forwardError(type: string, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { error: { type, message, ...extra }, message };
}
