// `output: { redact_credentials: true }`: credential-shaped strings in what reaches the agent are replaced,
// after secret redaction and before `pick` / `redact`. The shapes are the pattern set of
// contract/credential-patterns.ts; a whole token (the run of token characters holding a match) is replaced,
// and a PEM private key block up to its END line. Linear in the text: runs are found by one scan, and each
// pattern is a literal prefix and a bounded tail, except JWTs, which are checked by splitting at dots.

import { CREDENTIAL_PATTERNS } from "../contract/credential-patterns.js";
import { MAX_DEPTH, REDACTED } from "./redact.js";

const TOKEN_RUN = /[0-9A-Za-z_\-.+/=]{10,}/g;
const PEM_BEGIN = /-----BEGIN[ A-Z0-9_-]{0,64}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END = /-----END[ A-Z0-9_-]{0,64}PRIVATE KEY(?: BLOCK)?-----/g;
/** The prefix-and-tail patterns (every one but the PEM block and the JWT, checked on their own below). */
const RUN_PATTERNS = CREDENTIAL_PATTERNS.filter((p) => p.id !== "private-key" && p.id !== "jwt").map((p) => new RegExp(p.source, "u"));

function isJwtRun(run: string): boolean {
  const parts = run.split(".");
  for (let i = 0; i + 2 < parts.length; i++) {
    const [a, b, c] = [parts[i]!, parts[i + 1]!, parts[i + 2]!];
    if (a.length >= 13 && b.length >= 13 && c.length >= 10 && /^eyJ[0-9A-Za-z_-]+$/.test(a.slice(a.lastIndexOf("eyJ"))) && a.includes("eyJ") && /^eyJ[0-9A-Za-z_-]+$/.test(b) && /^[0-9A-Za-z_-]{10}/.test(c)) return true;
  }
  return false;
}

/** The text with credential-shaped parts replaced, and how many were. */
export function redactCredentialText(text: string): { text: string; count: number } {
  let count = 0;
  let out = text;
  if (out.includes("-----BEGIN")) {
    let result = "";
    let last = 0;
    PEM_BEGIN.lastIndex = 0;
    for (let m = PEM_BEGIN.exec(out); m !== null; m = PEM_BEGIN.exec(out)) {
      PEM_END.lastIndex = m.index + m[0].length;
      const end = PEM_END.exec(out);
      const stop = end === null ? out.length : end.index + end[0].length;
      result += out.slice(last, m.index) + REDACTED;
      last = stop;
      count++;
      PEM_BEGIN.lastIndex = stop;
    }
    out = result + out.slice(last);
  }
  out = out.replace(TOKEN_RUN, (run) => {
    if (RUN_PATTERNS.some((p) => p.test(run)) || (run.includes("eyJ") && isJwtRun(run))) {
      count++;
      return REDACTED;
    }
    return run;
  });
  return count === 0 ? { text, count } : { text: out, count };
}

/** The JSON value with credential-shaped strings (and keys) redacted: a copy where anything changed. */
export function redactCredentialJson(value: unknown): { value: unknown; count: number } {
  let count = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") {
      const r = redactCredentialText(v);
      count += r.count;
      return r.text;
    }
    if (v === null || typeof v !== "object" || depth >= MAX_DEPTH) return v;
    if (Array.isArray(v)) {
      let changed = false;
      const items = v.map((item) => {
        const next = walk(item, depth + 1);
        if (next !== item) changed = true;
        return next;
      });
      return changed ? items : v;
    }
    let changed = false;
    const entries = Object.entries(v as Record<string, unknown>).map(([key, item]) => {
      const k = walk(key, depth + 1) as string;
      const next = walk(item, depth + 1);
      if (k !== key || next !== item) changed = true;
      return [k, next] as const;
    });
    if (!changed) return v;
    const copy: Record<string, unknown> = {};
    for (const [k, item] of entries) Object.defineProperty(copy, k, { value: item, enumerable: true, writable: true, configurable: true });
    return copy;
  };
  const result = walk(value, 0);
  return { value: result, count };
}
