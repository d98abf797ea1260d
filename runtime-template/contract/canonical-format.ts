// Canonical forms of `format` input fields (SPEC section 2): the value an upstream would act on, so that
// policy compares what will be sent. A value with no canonical form is invalid (undefined here).

import { domainToASCII } from "node:url";

export type InputFormat = "email" | "hostname" | "uri" | "path";

export const INPUT_FORMATS: readonly InputFormat[] = ["email", "hostname", "uri", "path"];

/** How a validation error names each format: "is not a valid …". */
export const FORMAT_NAMES: Readonly<Record<InputFormat, string>> = {
  email: "email address",
  hostname: "hostname",
  uri: "absolute URI",
  path: "path",
};

// C0 and C1 controls, DEL, lone surrogates, line separators, and bidirectional and invisible
// formatting characters: no canonical value carries them. Whitespace is refused too, except in a path.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]|[\ud800-\udfff]/u;
const WHITESPACE = /\s/u;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function canonicalValue(format: InputFormat, value: string): string | undefined {
  if (CONTROL.test(value) || (format !== "path" && WHITESPACE.test(value))) return undefined;
  switch (format) {
    case "email":
      return canonicalEmail(value);
    case "hostname":
      return canonicalHostname(value);
    case "uri":
      return canonicalUri(value);
    case "path":
      return canonicalPath(value);
  }
}

/**
 * A DNS name as resolvers compare it: UTS #46 mapping and IDNA to ASCII (`domainToASCII`: lower case,
 * full-width and ideographic dots become `.`, Unicode labels become `xn--`), without the root's trailing dot.
 */
export function canonicalHostname(value: string): string | undefined {
  let ascii = domainToASCII(value);
  if (ascii.endsWith(".")) ascii = ascii.slice(0, -1);
  if (ascii.length === 0 || ascii.length > 253) return undefined;
  return ascii.split(".").every((label) => LABEL.test(label)) ? ascii : undefined;
}

// Characters that only quoted or obsolete local-part syntax allows: refused rather than interpreted,
// because mail systems disagree on them.
const LOCAL_SPECIALS = /["(),:;<>[\\\]@]/;

/** `local@domain` with exactly one `@`: the local part as written (mailboxes may be case-sensitive), the domain canonical. */
export function canonicalEmail(value: string): string | undefined {
  const at = value.indexOf("@");
  if (at <= 0 || at !== value.lastIndexOf("@")) return undefined;
  const local = value.slice(0, at);
  if (local.length > 64 || LOCAL_SPECIALS.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) return undefined;
  const domain = canonicalHostname(value.slice(at + 1));
  return domain === undefined ? undefined : `${local}@${domain}`;
}

/**
 * An absolute URI as the WHATWG URL parser serialises it (scheme and host lower-cased, IDNA, dot-segments
 * resolved in special schemes), without a trailing dot on the host. Credentials in the URI are refused:
 * `https://acme.example@evil.example/` names evil.example.
 */
export function canonicalUri(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "") return undefined;
  if (url.hostname.endsWith(".") && url.hostname.length > 1) url.hostname = url.hostname.slice(0, -1);
  return url.href;
}

// Separators and dots an upstream may decode after the policy has looked: `%2F`, `%5C`, `%2E`, `%00`.
const ENCODED_SEPARATOR = /%(?:2f|5c|2e|00)/i;

/**
 * A slash-separated path with `.` and empty segments dropped and `..` resolved; a `..` above the start
 * (the root, or the first segment of a relative path) has no canonical form. A leading `/` and a
 * trailing `/` are kept; a backslash or an encoded separator is refused.
 */
export function canonicalPath(value: string): string | undefined {
  if (value.includes("\\") || ENCODED_SEPARATOR.test(value)) return undefined;
  const absolute = value.startsWith("/");
  const segments: string[] = [];
  const parts = value.split("/");
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (segments.length === 0) return undefined;
      segments.pop();
    } else segments.push(part);
  }
  const last = parts.at(-1);
  const directory = segments.length > 0 && parts.length > 1 && (last === "" || last === "." || last === "..");
  return `${absolute ? "/" : ""}${segments.join("/")}${directory ? "/" : ""}`;
}
