// The upstream body: allow-listed decoding, the nesting limit, redaction, output rules failing closed.
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createRedactor, MAX_DEPTH, REDACTED } from "./redact.js";
import { contentCodings, nestsDeeperThan, readUpstreamBody, type BodyOptions } from "./upstream-body.js";

const SECRET = "sk_live_51HqLyjWDarjtT1zdp7dc";
const options = (output: BodyOptions["output"] = { pick: [], redact: [] }, extra: Partial<BodyOptions> = {}): BodyOptions => ({ maxResponseBytes: 1 << 20, redactor: createRedactor([SECRET]), output, ...extra });
const read = (body: Buffer | string, encoding?: string | string[], opts = options()) =>
  readUpstreamBody({ headers: encoding === undefined ? {} : { "content-encoding": encoding }, body: Buffer.from(body) }, opts);
const json = JSON.stringify({ id: "re_1", leaked: SECRET });

describe("upstream body", () => {
  const utf16be = (text: string) => Buffer.from(text, "utf16le").swap16();
  it.each([
    ["declared utf-16le", Buffer.from(json, "utf16le"), "application/json; charset=utf-16le"],
    ["declared UTF-16BE", utf16be(json), "application/json; charset=UTF-16BE"],
    ["a UTF-16LE byte-order mark", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, "utf16le")]), "application/json"],
    ["UTF-16LE by its shape, undeclared", Buffer.from(json, "utf16le"), "application/json"],
    ["UTF-16BE by its shape, declared utf-8", utf16be(json), "application/json; charset=utf-8"],
    ["declared latin1", Buffer.from(json, "latin1"), "text/plain; charset=iso-8859-1"],
  ])("reads a body as its reader does (%s) and redacts the secret in it", (_name, body, type) => {
    const result = readUpstreamBody({ headers: { "content-type": type }, body }, options());
    expect(JSON.stringify(result)).not.toContain(SECRET.slice(0, 12));
    expect(result).toEqual({ ok: true, value: { id: "re_1", leaked: REDACTED } });
  });

  it.each([
    ["ASCII bytes called UTF-16LE", Buffer.from(`${json} `, "latin1"), "text/plain; charset=utf-16le"],
    ["UTF-8 bytes called ISO-8859-1", Buffer.from(`é ${json}`, "utf8"), "text/plain; charset=iso-8859-1"],
    ["UTF-8 bytes called windows-1252", Buffer.from(`é ${json}`, "utf8"), "text/plain; charset=windows-1252"],
    ["UTF-16LE bytes called ISO-8859-1", Buffer.from(json, "utf16le"), "text/plain; charset=iso-8859-1"],
    ["UTF-16BE bytes called UTF-16LE", Buffer.from(json, "utf16le").swap16(), "text/plain; charset=utf-16le"],
    ["NULs between pairs of its bytes, called UTF-16LE", Buffer.from(SECRET.replace(/(..)/g, "$1\u0000\u0000").replace(/^(.)/, "$1"), "latin1"), "text/plain; charset=utf-16le"],
    ["\\u0000 escapes between its characters in JSON", Buffer.from(JSON.stringify({ s: [...SECRET].join("\u0000") })), "application/json"],
    ["UTF-16 inside UTF-16", Buffer.from(Buffer.from(json, "utf16le").toString("latin1"), "utf16le"), "text/plain; charset=utf-16le"],
  ])("does not pass on a body whose bytes hold the secret its charset label hides (%s)", (_name, body, type) => {
    expect(readUpstreamBody({ headers: { "content-type": type }, body }, options())).toMatchObject({ ok: false, problem: "hidden_by_charset" });
  });

  it("refuses a body in a charset it cannot decode", () => {
    expect(readUpstreamBody({ headers: { "content-type": "text/plain; charset=x-klingon" }, body: Buffer.from(json) }, options())).toMatchObject({ ok: false, problem: "undecodable_body" });
  });

  it.each([
    ["identity", Buffer.from(json), "identity"],
    ["gzip", gzipSync(json), "gzip"],
    ["x-gzip", gzipSync(json), "x-gzip"],
    ["deflate (zlib)", deflateSync(json), "deflate"],
    ["deflate (raw)", deflateRawSync(json), "deflate"],
    ["br", brotliCompressSync(json), "br"],
    ["gzip then br", brotliCompressSync(gzipSync(json)), "gzip, br"],
    ["upper case", gzipSync(json), "GZIP"],
  ])("decodes %s and redacts what is inside", (_name, body, encoding) => {
    expect(read(body, encoding)).toEqual({ ok: true, value: { id: "re_1", leaked: REDACTED } });
  });

  it.each([["zstd"], ["compress"], ["gzip, zstd"], ["exi"], ["x-custom"]])("refuses a body in %s, which it cannot inspect", (encoding) => {
    const result = read(Buffer.from(json), encoding);
    expect(result).toEqual({ ok: false, problem: "undecodable_encoding", message: "the upstream response is in a content encoding KeyRunner cannot inspect" });
  });

  it("a body that does not decompress is a problem, not the compressed bytes", () => {
    expect(read(Buffer.from(`garbage ${SECRET}`), "gzip")).toMatchObject({ ok: false, problem: "undecodable_body" });
  });

  it("a body that decompresses past the size cap is too large", () => {
    expect(read(gzipSync("x".repeat(5000)), "gzip", options(undefined, { maxResponseBytes: 100 }))).toMatchObject({ ok: false, problem: "too_large" });
  });

  it("knows the codings it decodes, in the order they were applied", () => {
    expect(contentCodings(undefined)).toEqual([]);
    expect(contentCodings(["gzip", "br"])).toEqual(["gzip", "br"]);
    expect(contentCodings("identity")).toEqual([]);
    expect(contentCodings("zstd")).toBeUndefined();
  });

  it(`measures nesting in one pass, strings skipped: more than ${MAX_DEPTH} levels is too deep`, () => {
    expect(nestsDeeperThan(`${"[".repeat(MAX_DEPTH)}${"]".repeat(MAX_DEPTH)}`, MAX_DEPTH)).toBe(false);
    expect(nestsDeeperThan(`${"[".repeat(MAX_DEPTH + 1)}${"]".repeat(MAX_DEPTH + 1)}`, MAX_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`["${"[".repeat(1000)}\\"${"{".repeat(1000)}"]`, MAX_DEPTH)).toBe(false);
  });

  it("a body nested deeper than the limit is refused, quickly, with a secret in it or not", () => {
    for (const leaf of ['"ok"', JSON.stringify(SECRET)]) {
      const deep = `${'{"a":'.repeat(200_000)}${leaf}${"}".repeat(200_000)}`;
      const started = performance.now();
      expect(read(deep)).toEqual({ ok: false, problem: "too_deep", message: `the upstream response is nested deeper than ${MAX_DEPTH} levels` });
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("a secret at the deepest allowed level is redacted in milliseconds", () => {
    const deep = `${'{"a":'.repeat(MAX_DEPTH - 2)}{"k":${JSON.stringify(`x${SECRET}`)},"b":[1]}${"}".repeat(MAX_DEPTH - 2)}`;
    const started = performance.now();
    const result = read(deep);
    expect(performance.now() - started).toBeLessThan(200);
    expect(result.ok).toBe(true);
    expect(JSON.stringify(result)).toContain(REDACTED);
    expect(JSON.stringify(result)).not.toContain("TOO DEEP");
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it("applies output rules after redaction", () => {
    expect(read(JSON.stringify({ id: "re_1", note: SECRET, card: "4242" }), undefined, options({ pick: ["id", "note"], redact: [] }))).toEqual({ ok: true, value: { id: "re_1", note: REDACTED } });
  });

  it("an output filter that fails is a problem, never the unfiltered body", () => {
    const failing = () => {
      throw new RangeError("Maximum call stack size exceeded");
    };
    const result = read(JSON.stringify({ id: "re_1", card: "4242" }), undefined, options({ pick: ["id"], redact: [] }, { filter: failing }));
    expect(result).toEqual({ ok: false, problem: "output_filter_failed", message: "the upstream response could not be filtered by the tool's output rules" });
  });

  it("output rules cannot apply to a body that is not JSON: it is not passed on whole", () => {
    expect(read("card=4242&id=re_1", undefined, options({ pick: ["id"], redact: [] }))).toMatchObject({ ok: false, problem: "output_filter_failed" });
    expect(read("", undefined, options({ pick: ["id"], redact: [] }))).toEqual({ ok: true, value: "" });
  });

  it("a text body is redacted as text, NDJSON escapes included", () => {
    const ndjson = `{"a":1}\n{"k":"${SECRET.replace("_", "\\u005f")}"}\n`;
    expect(read(ndjson)).toEqual({ ok: true, value: `{"a":1}\n{"k":"${REDACTED}"}\n` });
  });
});
