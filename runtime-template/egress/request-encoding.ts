// Encodes input values for the place a template puts them (SPEC section 2). Values are inserted as
// data in one pass: a value that looks like `${secrets.X}` is literal text, never a template.

export class TemplateValueError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Text of a value for a string context; lists are joined with commas. */
export function text(value: unknown): string {
  if (Array.isArray(value)) return value.map(text).join(",");
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return value === undefined || value === null ? "" : String(value);
}

/**
 * A path segment: everything outside RFC 3986's unreserved characters is percent-encoded, so `/`, `?`,
 * `#` and `%` cannot change the path. An empty segment, `.` and `..` are refused: URL parsers (WHATWG's
 * included) treat `%2E%2E` as `..` and would climb out of the segment.
 */
export function pathSegment(field: string, value: unknown): string {
  const raw = text(value);
  if (raw === "") throw new TemplateValueError(field, "must not be empty in a URL path");
  if (raw === "." || raw === "..") throw new TemplateValueError(field, "must not be . or .. in a URL path");
  return encodeURIComponent(raw).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A header value: CR, LF and other control characters are refused, not stripped. */
export function header(name: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : headerValue(name, value);
}

export function definedPairs(pairs: ReadonlyArray<readonly [string, string | undefined]>): Array<readonly [string, string]> {
  return pairs.filter((pair): pair is readonly [string, string] => pair[1] !== undefined);
}

export function headerValue(field: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new TemplateValueError(field, "must not contain control characters in a header");
  }
  // A header carries bytes: text past Latin-1 has no single encoding there, and Node refuses it.
  if (/[^\u0000-\u00ff]/.test(value)) throw new TemplateValueError(field, "must be Latin-1 text in a header");
  return value;
}

export function queryString(pairs: ReadonlyArray<readonly [string, string | undefined]>): string {
  const params = new URLSearchParams();
  for (const [name, value] of pairs) if (value !== undefined) params.append(name, value);
  return params.toString();
}

export function jsonBody(body: unknown): { contentType: string; text: string } {
  return { contentType: "application/json", text: JSON.stringify(body) };
}

/** Form encoding: nested values are not representable and were rejected at build time. */
export function formBody(pairs: ReadonlyArray<readonly [string, unknown]>): { contentType: string; text: string } {
  const params = new URLSearchParams();
  for (const [name, value] of pairs) if (value !== undefined) params.append(name, text(value));
  return { contentType: "application/x-www-form-urlencoded", text: params.toString() };
}

export function bearer(secret: string): string {
  return `Bearer ${secret}`;
}

/** The secret holds `user:password` (or a bare key, used as the user with an empty password, as Stripe does). */
export function basic(secret: string): string {
  return `Basic ${Buffer.from(secret.includes(":") ? secret : `${secret}:`).toString("base64")}`;
}

/** SPEC 2: an argv value that begins with `-` is refused unless the field allows it. */
export function argvValue(field: string, value: unknown, allowDash: boolean): string {
  const raw = text(value);
  if (!allowDash && raw.startsWith("-")) throw new TemplateValueError(field, "must not begin with '-' in a command argument");
  if (raw.includes("\u0000")) throw new TemplateValueError(field, "must not contain NUL in a command argument");
  return raw;
}
