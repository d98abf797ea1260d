// A reference reading of SPEC section 2's template encoding, written independently of the runtime:
// path segments percent-encode everything but RFC 3986 unreserved characters (and refuse "", ".",
// ".."), query values are form-urlencoded, header values refuse control characters, a body value that
// is exactly one template keeps its JSON type, and substitution happens once.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export type Encoded = { ok: true; value: string } | { ok: false };

export function pathSegment(value: string): Encoded {
  if (value === "" || value === "." || value === "..") return { ok: false };
  let out = "";
  for (const char of value) {
    if (UNRESERVED.test(char)) out += char;
    else for (const byte of Buffer.from(char, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return { ok: true, value: out };
}

export function queryPair(name: string, value: string): string {
  const encode = (s: string) => {
    let out = "";
    for (const char of s) {
      if (/[A-Za-z0-9*\-._]/.test(char)) out += char;
      else if (char === " ") out += "+";
      else for (const byte of Buffer.from(char, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return out;
  };
  return `${encode(name)}=${encode(value)}`;
}

export function headerValue(value: string): Encoded {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return { ok: false };
  // Header values are bytes: past Latin-1 there is no one encoding, so they are refused.
  return [...value].every((char) => char.codePointAt(0)! <= 0xff) ? { ok: true, value } : { ok: false };
}
