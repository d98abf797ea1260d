// Property: whatever form, fragment and surroundings a secret comes in, no 12-byte window of it survives
// redaction, as judged by an independent brute-force leak oracle. KR_LEAK_RUNS sets the cases (2,000).
import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { findLeak } from "../../test/support/leak-oracle.js";
import { createRedactor } from "./redact.js";
import { readUpstreamBody } from "./upstream-body.js";

const RUNS = Number(process.env.KR_LEAK_RUNS ?? 2_000);

const alnum = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".split(""));
const punct = fc.constantFrom(..."_-+/=%.:~ !\"\\&?#{}[],".split(""));
const unicode = fc.constantFrom("é", "€", "𝄞", "ÿ", "\u2028", "中");
const secretChar = fc.oneof({ weight: 12, arbitrary: alnum }, { weight: 3, arbitrary: punct }, { weight: 1, arbitrary: unicode });
const secretArb = fc.array(secretChar, { minLength: 8, maxLength: 48 }).map((a) => a.join(""));
/** Surrounding text: base64-ish words (so runs join), punctuation, escapes, line breaks. */
const aroundArb = fc.array(fc.oneof({ weight: 8, arbitrary: alnum }, { weight: 3, arbitrary: punct }, { weight: 1, arbitrary: fc.constantFrom("\n", "\r\n", "\t", "é") }), { maxLength: 40 }).map((a) => a.join(""));

const randomCase = (text: string, upper: boolean[]) => text.split("").map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c.toLowerCase())).join("");

type Container = "plain" | "json" | "ndjson" | "json-key";
type Form = { text: string; jsonReady: boolean };

/** The fragment in one form; `jsonReady` says the form is already valid inside a JSON string. */
const formArb = (fragment: string): fc.Arbitrary<Form> => {
  const bytes = Buffer.from(fragment, "utf8");
  return fc.oneof(
    fc.constant({ text: fragment, jsonReady: false }),
    // JSON \u escapes of a random subset of the characters, hex in either case.
    fc.tuple(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean()).map(([subset, upper, forJson]) => {
      const text = [...fragment]
        .map((ch, i) => {
          if (!subset[i % subset.length]) return forJson ? JSON.stringify(ch).slice(1, -1) : ch;
          return [...Array(ch.length).keys()].map((j) => `\\u${ch.charCodeAt(j).toString(16).padStart(4, "0")}`).map((e) => (upper ? e.toUpperCase().replace("\\U", "\\u") : e)).join("");
        })
        .join("");
      return { text, jsonReady: forJson };
    }),
    // Percent-encoding of a random subset of the bytes (non-ASCII bytes always), either hex case.
    fc.tuple(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 })).map(([subset, upper]) => {
      let text = "";
      let ascii: number[] = [];
      const flush = () => ((text += Buffer.from(ascii).toString("latin1")), (ascii = []));
      bytes.forEach((b, i) => {
        if (b >= 0x80 || subset[i % subset.length]) {
          flush();
          const hex = b.toString(16).padStart(2, "0");
          text += `%${upper[i % upper.length] ? hex.toUpperCase() : hex}`;
        } else ascii.push(b);
      });
      flush();
      return { text, jsonReady: false };
    }),
    // HTML character references of a random subset of the characters: decimal, hex or named.
    fc.tuple(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.array(fc.constantFrom("dec", "hex", "HEX"), { minLength: 1, maxLength: 3 })).map(([subset, styles]) => {
      const named: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
      const text = [...fragment]
        .map((ch, i) => {
          if (!subset[i % subset.length]) return ch === "&" ? "&amp;" : ch;
          const style = styles[i % styles.length]!;
          const cp = ch.codePointAt(0)!;
          return named[ch] !== undefined && style === "dec" ? named[ch] : style === "dec" ? `&#${cp};` : `&#${style === "hex" ? "x" : "X"}${style === "hex" ? cp.toString(16) : cp.toString(16).toUpperCase()};`;
        })
        .join("");
      return { text, jsonReady: false };
    }),
    // Hex of any case.
    fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }).map((upper) => ({ text: randomCase(bytes.toString("hex"), upper), jsonReady: false })),
    // base64 or base64url of the fragment inside other bytes (any alignment), perhaps wrapped.
    fc
      .tuple(fc.uint8Array({ maxLength: 5 }), fc.uint8Array({ maxLength: 5 }), fc.boolean(), fc.constantFrom(0, 4, 19, 64, 76), fc.constantFrom("\n", "\r\n"))
      .map(([before, after, url, wrap, eol]) => {
        let text = Buffer.concat([before, bytes, after]).toString(url ? "base64url" : "base64");
        if (wrap > 0) text = text.replace(new RegExp(`(.{${wrap}})`, "g"), `$1${eol}`);
        return { text, jsonReady: false };
      }),
  );
};

/** A fragment of at least 12 bytes of the secret (or the whole secret when it is shorter). */
const fragmentArb = (secret: string) => {
  const chars = [...secret];
  return fc.tuple(fc.nat({ max: chars.length - 1 }), fc.nat({ max: chars.length })).map(([start, length]) => {
    const fragment = chars.slice(start, start + length).join("");
    return Buffer.byteLength(fragment) >= Math.min(12, Buffer.byteLength(secret)) ? fragment : secret;
  });
};

const caseArb = fc.array(secretArb, { minLength: 1, maxLength: 3 }).chain((secrets) =>
  fc.record({
    secrets: fc.constant(secrets),
    placed: fc
      .array(
        fc.nat({ max: secrets.length - 1 }).chain((which) => fragmentArb(secrets[which]!).chain((fragment) => fc.tuple(formArb(fragment), aroundArb, aroundArb))),
        { minLength: 1, maxLength: 3 },
      ),
    container: fc.constantFrom<Container>("plain", "json", "ndjson", "json-key"),
    depth: fc.nat({ max: 8 }),
    gzip: fc.boolean(),
  }),
);

const jsonString = (form: Form, before: string, after: string) => `"${JSON.stringify(before).slice(1, -1)}${form.jsonReady ? form.text : JSON.stringify(form.text).slice(1, -1)}${JSON.stringify(after).slice(1, -1)}"`;

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function bodyOf(c: Case): string {
  const strings = c.placed.map(([form, before, after]) => jsonString(form, before, after));
  const nest = (inner: string) => {
    let out = inner;
    for (let i = 0; i < c.depth; i++) out = i % 2 === 0 ? `[1,${out}]` : `{"n${i}":${out}}`;
    return out;
  };
  switch (c.container) {
    case "plain":
      return c.placed.map(([form, before, after]) => `${before}${form.text}${after}`).join(" ");
    case "json":
      return nest(`{${strings.map((s, i) => `"f${i}":${s}`).join(",")}}`);
    case "json-key":
      return nest(`{${strings.map((s) => `${s}:true`).join(",")}}`);
    case "ndjson":
      return `${strings.map((s) => `{"line":${s}}`).join("\n")}\n`;
  }
}

describe("redaction against an independent leak oracle", () => {
  it(`no 12-byte window of a secret survives in any form (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const redactor = createRedactor(c.secrets);
        const body = bodyOf(c);
        // As an upstream answer (decoded, parsed, redacted), and as text for the audit, a log or Location.
        const read = readUpstreamBody(
          { headers: c.gzip ? { "content-encoding": "gzip" } : {}, body: c.gzip ? gzipSync(body) : Buffer.from(body) },
          { maxResponseBytes: 1 << 20, redactor, output: { pick: [], redact: [] } },
        );
        if (!read.ok) throw new Error(`body not read: ${read.problem}`);
        const answer = typeof read.value === "string" ? read.value : JSON.stringify(read.value);
        for (const out of [answer, redactor.text(body)]) {
          for (const secret of c.secrets) {
            const leak = findLeak(out, secret);
            if (leak !== undefined) throw new Error(`${leak}\nsecret ${JSON.stringify(secret)}\nbody ${JSON.stringify(body)}\nout ${JSON.stringify(out)}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  }, 30 * 60_000);

  it("the oracle itself sees each form the issue names, unredacted", () => {
    const secret = "sk_live_51HqLyjWDarjtT1zdp7dcXYZ";
    const b = Buffer.from(secret);
    const forms = [
      secret,
      [...b].map((x) => `%${x.toString(16).toUpperCase()}`).join(""),
      b.toString("hex").toUpperCase(),
      Buffer.from(`xy${secret}`).toString("base64").replace(/(.{10})/g, "$1\r\n"),
      secret.slice(0, 20),
      secret.slice(-20),
      Buffer.from(`Basic ${secret}`).toString("base64").slice(12, 32),
      `{"k":"${[...secret].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"}`,
    ];
    for (const form of forms) {
      expect(findLeak(form, secret), form).toBeDefined();
      expect(findLeak(createRedactor([secret]).text(form), secret), form).toBeUndefined();
    }
    expect(findLeak("nothing secret here", secret)).toBeUndefined();
  });
});
