import { describe, expect, it } from "vitest";
import { asciiStringLiteral, chunkEntry, formatMismatches, LAZY_CHUNKS, lazyChunkPlugin } from "./lazy-chunks.js";
import { packageRoot } from "./bundle-runtime.js";

describe("lazy chunks", () => {
  it("embeds any text as a pure-ASCII literal that reads back exactly", () => {
    const text = 'quote " backslash \\ newline \n tab \t dash \u2014 line sep \u2028 astral \u{1f600} nul \0 end';
    const literal = asciiStringLiteral(text);
    expect(/[^\x00-\x7f]/.test(literal)).toBe(false);
    expect(JSON.parse(literal)).toBe(text);
  });

  it("requires a chunk's modules in the listed order, so reflect-metadata runs before the X.509 stack", () => {
    const x509 = LAZY_CHUNKS.find((c) => c.name === "x509")!;
    expect(chunkEntry(x509).split("\n")[0]).toBe('exports.m0 = require("reflect-metadata");');
    expect(chunkEntry(x509).split("\n")).toHaveLength(x509.specifiers.length);
  });

  it("re-exports an ES package as a namespace (tree-shaken) and requires a CommonJS one (its own exports)", () => {
    const mcp = LAZY_CHUNKS.find((c) => c.name === "mcp")!;
    const undici = LAZY_CHUNKS.find((c) => c.name === "undici")!;
    expect(chunkEntry(mcp).split("\n")[0]).toBe('export * as m0 from "@modelcontextprotocol/sdk/server/index.js";');
    expect(chunkEntry(undici)).toBe('exports.m0 = require("undici/lib/dispatcher/pool.js");');
  });

  it("names a specifier whose package is not of its chunk's declared format", () => {
    const undici = LAZY_CHUNKS.find((c) => c.name === "undici")!;
    const metafile = {
      inputs: {
        "<stdin>/lazy-chunk-undici.js": { bytes: 1, imports: [{ path: "node_modules/undici/lib/dispatcher/pool.js", kind: "require-call" as const, original: "undici/lib/dispatcher/pool.js" }] },
        "node_modules/undici/lib/dispatcher/pool.js": { bytes: 1, imports: [], format: "esm" as const },
      },
      outputs: {},
    };
    expect(formatMismatches(undici, metafile)).toEqual(["undici/lib/dispatcher/pool.js is esm"]);
    metafile.inputs["node_modules/undici/lib/dispatcher/pool.js"].format = "cjs" as never;
    expect(formatMismatches(undici, metafile)).toEqual([]);
  });

  it("fails the build on an import of a lazy package that no chunk lists, naming the table", async () => {
    const esbuild = await import("esbuild");
    const sources = new Map(LAZY_CHUNKS.map((c) => [c.name, "exports.m0 = {};"]));
    const attempt = esbuild.build({
      stdin: { contents: 'import { AsnParser } from "@peculiar/asn1-schema/build/es2015/parser.js"; console.log(AsnParser);', resolveDir: packageRoot, loader: "js" },
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      logLevel: "silent",
      plugins: [lazyChunkPlugin(sources, `${packageRoot}/runtime-template/process/lazy-chunk.ts`)],
    });
    await expect(attempt).rejects.toThrow(/not listed in LAZY_CHUNKS/);
  });

  it("hands a listed import its chunk's module, compiled on first evaluation", async () => {
    const esbuild = await import("esbuild");
    const sources = new Map(LAZY_CHUNKS.map((c) => [c.name, "exports.m0 = {};"]));
    const built = await esbuild.build({
      stdin: { contents: 'import("@redis/client").then((m) => m.createClient);', resolveDir: packageRoot, loader: "js" },
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      logLevel: "silent",
      plugins: [lazyChunkPlugin(sources, `${packageRoot}/runtime-template/process/lazy-chunk.ts`)],
    });
    const text = built.outputFiles[0]!.text;
    // node-redis itself is not in the output: only its stand-in and the chunk's text as a string.
    expect(text).toMatch(/loadChunk\d*\("redis"/);
    expect(text).not.toContain("node_modules/@redis");
  });
});
