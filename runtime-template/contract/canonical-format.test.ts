// Canonical forms of `format` fields (email, hostname, uri, path), and the values that have none.
import { describe, expect, it } from "vitest";
import { canonicalValue, type InputFormat } from "./canonical-format.js";
import { prepareInput } from "./prepare-input.js";

const cases: Array<[string, InputFormat, string, string | undefined]> = [
  ["email: the domain is lower-cased", "email", "Bob@ACME.Example", "Bob@acme.example"],
  ["email: the root's trailing dot goes", "email", "bob@acme.example.", "bob@acme.example"],
  ["email: full-width dots are dots", "email", "bob@acme\uff0eexample", "bob@acme.example"],
  ["email: ideographic full stops are dots", "email", "bob@acme\u3002example", "bob@acme.example"],
  ["email: a Unicode domain becomes IDNA ASCII", "email", "anna@b\u00fccher.example", "anna@xn--bcher-kva.example"],
  ["email: a full-width at sign is no at sign", "email", "bob\uff20acme.example", undefined],
  ["email: two at signs are refused", "email", "a@b@acme.example", undefined],
  ["email: an empty local part is refused", "email", "@acme.example", undefined],
  ["email: a quoted local part is refused", "email", '"bob"@acme.example', undefined],
  ["email: two trailing dots are refused", "email", "bob@acme.example..", undefined],
  ["email: an empty label is refused", "email", "bob@acme..example", undefined],
  ["email: whitespace is refused", "email", "bob@acme.example ", undefined],
  ["email: a right-to-left override is refused", "email", "bob@acme.example\u202e", undefined],
  ["email: a zero-width space is refused", "email", "bob@acme\u200b.example", undefined],
  ["email: a lone surrogate is refused", "email", "bob\ud800@acme.example", undefined],
  ["hostname: lower-cased, no trailing dot", "hostname", "API.Acme.Example.", "api.acme.example"],
  ["hostname: an IPv4 address in another notation is the address", "hostname", "0x7f.1", "127.0.0.1"],
  ["hostname: a bracketed IPv6 literal is not a hostname", "hostname", "[::1]", undefined],
  ["hostname: a label over 63 characters is refused", "hostname", `${"a".repeat(64)}.example`, undefined],
  ["uri: scheme and host lower-cased, dot-segments resolved", "uri", "HTTPS://Acme.Example./a/../b", "https://acme.example/b"],
  ["uri: credentials are refused", "uri", "https://acme.example@evil.example/", undefined],
  ["uri: a relative reference is not absolute", "uri", "/docs", undefined],
  ["path: dot-segments resolved", "path", "/docs/./a/../b", "/docs/b"],
  ["path: empty segments collapse", "path", "docs//a", "docs/a"],
  ["path: a trailing slash is kept", "path", "docs/a/", "docs/a/"],
  ["path: spaces are fine in a path", "path", "My Documents/a.txt", "My Documents/a.txt"],
  ["path: no escape above the root", "path", "/docs/../../etc/passwd", undefined],
  ["path: no escape above a relative start", "path", "../etc", undefined],
  ["path: an encoded slash is refused", "path", "docs%2F..%2Fetc", undefined],
  ["path: an encoded dot is refused", "path", "docs/%2e%2e/etc", undefined],
  ["path: a backslash is refused", "path", "docs\\..\\etc", undefined],
  ["path: a NUL byte is refused", "path", "docs/a\u0000.txt", undefined],
];

describe("canonical forms", () => {
  it.each(cases)("%s", (_name, format, value, expected) => {
    expect(canonicalValue(format, value)).toBe(expected);
  });

  it("a canonical value is its own canonical form", () => {
    for (const [, format, , expected] of cases) if (expected !== undefined) expect(canonicalValue(format, expected)).toBe(expected);
  });
});

describe("preparing an input", () => {
  const validate = (copy: unknown) => {
    (copy as Record<string, unknown>).cc ??= [];
    return undefined;
  };

  it("canonicalises a copy and never changes the caller's object", () => {
    const input = { to: "bob@ACME.example.", cc: undefined as unknown };
    delete input.cc;
    const frozen = structuredClone(input);
    const prepared = prepareInput(input, { to: "email", cc: "email" }, validate);
    expect(prepared).toEqual({ input: { to: "bob@acme.example", cc: [] } });
    expect(input).toEqual(frozen);
  });

  it("canonicalises each item of a list and names the item that has no canonical form", () => {
    expect(prepareInput({ cc: ["A@X.example", "B@Y.example."] }, { cc: "email" }, () => undefined)).toEqual({ input: { cc: ["A@x.example", "B@y.example"] } });
    expect(prepareInput({ cc: ["a@x.example", "nobody"] }, { cc: "email" }, () => undefined)).toEqual({ errors: [{ path: "cc.1", message: "is not a valid email address" }] });
  });

  it("a value with no canonical form is invalid before the validator runs", () => {
    let validated = false;
    const prepared = prepareInput({ path: "../etc" }, { path: "path" }, () => ((validated = true), undefined));
    expect(prepared).toEqual({ errors: [{ path: "path", message: "is not a valid path" }] });
    expect(validated).toBe(false);
  });
});
