// Small predicates the generated decision code calls; their semantics are docs/policy-semantics.md's.

import type { StringPattern } from "./dfa-match.js";

/** A character that says something: not white space, a control or a format character (a zero-width space). */
const SAYS_SOMETHING = /[^\p{White_Space}\p{Cc}\p{Cf}]/u;

/**
 * SPEC 3: a reason is a non-empty string of at most 1000 characters — and one that says something: a
 * reason of spaces, NULs or zero-width characters only is no reason (found from outside).
 */
export function hasReason(reason: string | undefined): boolean {
  return typeof reason === "string" && reason.length > 0 && reason.length <= 1000 && SAYS_SOMETHING.test(reason);
}

/** Length in Unicode code points, as JSON Schema counts it. */
export function codePointLength(value: string): number {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    length++;
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return length;
}

/**
 * The last `count` code points of `value` (all of it when shorter). A case-insensitive `ends_with` tests
 * only these, so its time does not grow with the value: simple case folding maps one code point to one.
 */
export function lastCodePoints(value: string, count: number): string {
  let start = value.length;
  for (let seen = 0; seen < count && start > 0; seen++) {
    start--;
    const code = value.charCodeAt(start);
    if (code >= 0xdc00 && code <= 0xdfff && start > 0) {
      const previous = value.charCodeAt(start - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) start--;
    }
  }
  return value.slice(start);
}

export function everyIn<T>(values: readonly T[], allowed: ReadonlySet<T>): boolean {
  for (const value of values) if (!allowed.has(value)) return false;
  return true;
}

export function everyMatches(values: readonly string[], pattern: StringPattern): boolean {
  for (const value of values) if (!pattern.test(value)) return false;
  return true;
}

export { inWindow } from "./time-window.js";

/** `no_credentials: true`: no pattern of the credential set finds a match in the value. */
export function freeOfCredentials(value: string, patterns: readonly StringPattern[]): boolean {
  for (const pattern of patterns) if (pattern.test(value)) return false;
  return true;
}

export function everyFreeOfCredentials(values: readonly string[], patterns: readonly StringPattern[]): boolean {
  for (const value of values) if (!freeOfCredentials(value, patterns)) return false;
  return true;
}

/** Why `no_credentials` failed, naming the kinds of credential found and never the value. */
export function credentialFinding(field: string, value: string | readonly string[], patterns: readonly StringPattern[], descriptions: readonly string[]): string {
  const values = typeof value === "string" ? [value] : value;
  const found = descriptions.filter((_, i) => values.some((v) => patterns[i]!.test(v)));
  return `\`${field}\` contains something credential-shaped (${found.join(", ")}); remove it`;
}
