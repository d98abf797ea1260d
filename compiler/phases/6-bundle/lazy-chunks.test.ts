import { describe, expect, it } from "vitest";
import { chunkEntry, embedChunks, formatMismatches, LAZY_CHUNKS, lazyChunkPlugin } from "./lazy-chunks.js";
import { decodeChunkComment } from "../../../runtime-template/process/lazy-chunk.js";
import { packageRoot } from "./bundle-runtime.js";

/** `contents` bundled by esbuild with only the lazy-chunk plugin: the output's text. */
async function bundleThroughPlugin(contents: string): Promise<string> {
  const esbuild = await import("esbuild");
  const built = await esbuild.build({
    stdin: { contents, resolveDir: packageRoot, loader: "js" },
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    logLevel: "silent",
    plugins: [lazyChunkPlugin(`${packageRoot}/runtime-template/process/lazy-chunk.ts`)],
  });
  return built.outputFiles[0]!.text;
}

describe("lazy chunks", () => {
  it("embeds a chunk as a function's comment that reads back exactly, comment ends and the escape included", () => {
    const code = 'a = "*/"; /* c */ b = /\\*\\//; d = "\u007f0 \u007f1 \u007f"; e = "/*"; f = 1 **/ 2; g = "*"';
    const bundle = embedChunks("const holder = __keyrunner_lazy_chunk_t__;\n", new Map([["t", code]]));
    expect(bundle.startsWith("const holder = function keyrunnerChunk_t() {/*")).toBe(true);
    // The embedded function is real JavaScript: its source text is the comment, whatever the chunk holds.
    const holder = new Function(`${bundle}; return holder;`)() as () => void;
    expect(decodeChunkComment(holder)).toBe(code);
    expect(holder()).toBeUndefined();
  });

  it("refuses a bundle without the chunk's placeholder, with it twice, or a chunk that is not ASCII", () => {
    expect(() => embedChunks("nothing here", new Map([["t", "x"]]))).toThrow(/exactly once/);
    expect(() => embedChunks("__keyrunner_lazy_chunk_t__ __keyrunner_lazy_chunk_t__", new Map([["t", "x"]]))).toThrow(/exactly once/);
    expect(() => embedChunks("__keyrunner_lazy_chunk_t__", new Map([["t", "dash \u2014"]]))).toThrow(/not ASCII/);
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
    await expect(bundleThroughPlugin('import { AsnParser } from "@peculiar/asn1-schema/build/es2015/parser.js"; console.log(AsnParser);')).rejects.toThrow(/not listed in LAZY_CHUNKS/);
  });

  it("hands a listed import its chunk's module, compiled on first evaluation", async () => {
    const text = await bundleThroughPlugin('import("@redis/client").then((m) => m.createClient);');
    // node-redis itself is not in the output: only its stand-in and the place for the chunk's text.
    expect(text).toMatch(/loadChunk\d*\("redis"/);
    expect(text).not.toContain("node_modules/@redis");
  });
});
