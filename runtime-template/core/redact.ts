// Replaces every secret value — raw, base64 and base64url at any byte offset, hex, URL- and
// form-encoded — with [REDACTED], judged on what the reader decodes: JSON is parsed first, so `\u`
// escapes are decoded before matching; gzip/deflate/br bodies are decompressed by the caller.

export const REDACTED = "[REDACTED]";
/** Deeper JSON than this is cut (and marked) before it reaches an answer, the audit or a log. */
export const MAX_DEPTH = 64;
export const TOO_DEEP = "[TOO DEEP]";
/** Encoded fragments shorter than this are too likely to occur by chance to be replaced. */
const MIN_FRAGMENT = 6;

export interface Redactor {
  text(value: string): string;
  /** Whether JSON text may hold a secret once parsed: false only when it has no escape and no secret form. */
  mayHoldSecret(jsonText: string): boolean;
  /** The JSON value with every string (and key) redacted and cut at MAX_DEPTH: a copy where anything changed, else the value itself. */
  json(value: unknown): unknown;
}

export function secretVariants(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const variants = new Set<string>([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  variants.add(bytes.toString("hex"));
  variants.add(bytes.toString("hex").toUpperCase());
  for (let offset = 0; offset < 3; offset++) {
    // The secret's bytes preceded by `offset` other bytes: keep only the characters they fully determine.
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const fragment = encoded.slice(start, end);
    variants.add(fragment);
    variants.add(fragment.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...variants].filter((v) => v.length >= MIN_FRAGMENT || v === secret);
}

export function createRedactor(secrets: Iterable<string>): Redactor {
  const variants = [...new Set([...secrets].filter((s) => s.length > 0).flatMap(secretVariants))].sort((a, b) => b.length - a.length);
  const pattern = variants.length === 0 ? undefined : new RegExp(variants.map((v) => v.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")).join("|"), "g");
  const text = (value: string) => (pattern === undefined ? value : value.replace(pattern, REDACTED));
  /** A copy of a value that JSON.parse could not have made (a class instance, say): every key and string redacted. */
  const copy = (value: object, depth: number): unknown => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, text(k), { value: json(v, depth + 1), enumerable: true, writable: true, configurable: true });
    return out;
  };
  // Copy on write: a value with nothing to redact (the common case) comes back as it is, unallocated.
  const json = (value: unknown, depth = 0): unknown => {
    if (typeof value === "string") return text(value);
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH) return TOO_DEEP;
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const redacted = json(item, depth + 1);
        if (out === undefined && redacted !== item) out = value.slice(0, i);
        out?.push(redacted);
      }
      return out ?? value;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return copy(value, depth);
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = (value as Record<string, unknown>)[key];
      if (text(key) !== key || json(item, depth + 1) !== item) return copy(value, depth);
    }
    return value;
  };
  // Without a backslash, every decoded string is a substring of the raw text, so a raw miss is a miss.
  const probe = pattern === undefined ? undefined : new RegExp(pattern.source);
  const mayHoldSecret = (jsonText: string) => probe !== undefined && (jsonText.includes("\\") || probe.test(jsonText));
  return { text, json, mayHoldSecret };
}
