// The libraries only some servers use travel inside the one bundle file as source text, compiled on
// first use (runtime-template/process/lazy-chunk.ts). V8 must parse every function of a script before it
// runs any of it, and these three are two thirds of the bundle: parsing them cost ~55 ms of every start.
// As the comment of a function they are skipped, not parsed: 1.9 MB as a string literal cost ~34 M
// instructions of the start, as a comment ~10 M (docs/performance.md, cold start).
// undici is one too: every server needs it, but only once a request goes out, so it compiles after the ready line.

import { join } from "node:path";
import type { Plugin, PluginBuild } from "esbuild";
import { encodeChunkComment } from "../../../runtime-template/process/lazy-chunk.js";

/** A group of packages compiled together on first use, and the module specifiers the runtime imports from it. */
export interface LazyChunk {
  readonly name: string;
  readonly why: string;
  /** Exactly the specifiers the runtime imports, in the order they are evaluated (a side-effect import such as reflect-metadata first). */
  readonly specifiers: readonly string[];
  /** What the specifiers' packages are written as; the chunk's build checks it (see chunkEntry). */
  readonly format: "cjs" | "esm";
}

export const LAZY_CHUNKS: readonly LazyChunk[] = [
  { name: "undici", why: "undici's Pool: on the first outbound call, or just after the ready line", specifiers: ["undici/lib/dispatcher/pool.js"], format: "cjs" },
  { name: "redis", why: "node-redis: only with --state redis://", specifiers: ["@redis/client"], format: "cjs" },
  {
    name: "x509",
    why: "the X.509 stack: only with --ca (HTTPS interception) and the ca commands",
    specifiers: ["reflect-metadata", "@peculiar/x509", "@peculiar/asn1-schema", "@peculiar/asn1-x509"],
    format: "cjs",
  },
  {
    name: "mcp",
    why: "the MCP SDK and zod: only on the first MCP request, `mcp` and `mcp-bridge`",
    specifiers: [
      "@modelcontextprotocol/sdk/server/index.js",
      "@modelcontextprotocol/sdk/types.js",
      "@modelcontextprotocol/sdk/shared/protocol.js",
      "@modelcontextprotocol/sdk/server/stdio.js",
      "@modelcontextprotocol/sdk/server/streamableHttp.js",
      "@modelcontextprotocol/sdk/client/streamableHttp.js",
    ],
    format: "esm",
  },
];

/** The packages whose every import must go through a chunk (an import not listed above fails the build). */
const LAZY_PACKAGES = /^(@peculiar\/|(undici|@redis\/client|@modelcontextprotocol\/sdk|reflect-metadata)(\/|$))/;

/**
 * A chunk's entry: each specifier's module under its index, evaluated in order (so a side-effect import
 * such as reflect-metadata runs first). A CommonJS package is required, so its stand-in hands out its own
 * `module.exports`, as importing it would (undici's Pool is that object's default). An ES package is
 * re-exported as a namespace, so esbuild still drops what nothing uses (most of zod).
 */
export function chunkEntry(chunk: LazyChunk): string {
  return chunk.specifiers
    .map((s, i) => (chunk.format === "cjs" ? `exports.m${i} = require(${JSON.stringify(s)});` : `export * as m${i} from ${JSON.stringify(s)};`))
    .join("\n");
}

/**
 * The specifiers a chunk's entry reached whose module is not of the chunk's declared format. What it
 * catches: an "esm" chunk whose package resolved to CommonJS would hand importers a namespace with the
 * module under `default` instead of the module. (A dual package required by a "cjs" chunk resolves to its
 * CommonJS build, which is correct, only larger: the MCP SDK's would be 1.2 MB instead of 0.34.)
 */
export function formatMismatches(chunk: LazyChunk, metafile: import("esbuild").Metafile): string[] {
  const entry = Object.entries(metafile.inputs).find(([path]) => path.includes(`lazy-chunk-${chunk.name}.js`))?.[1];
  return (entry?.imports ?? [])
    .filter((i) => i.original !== undefined && chunk.specifiers.includes(i.original) && metafile.inputs[i.path]?.format !== undefined && metafile.inputs[i.path]!.format !== chunk.format)
    .map((i) => `${i.original} is ${metafile.inputs[i.path]!.format}`);
}

/** Where a chunk's text goes in the bundle: a free identifier esbuild leaves as it is, replaced after the build. */
const placeholder = (name: string) => `__keyrunner_lazy_chunk_${name}__`;

/**
 * The bundle with each chunk's text in place: `function keyrunnerChunk_NAME() {/* text *\/}`. esbuild drops
 * comments, so they go in after it. Each placeholder must occur exactly once, and the text be ASCII.
 */
export function embedChunks(bundle: string, sources: ReadonlyMap<string, string>): string {
  let text = bundle;
  for (const [name, code] of sources) {
    const at = text.indexOf(placeholder(name));
    if (at < 0 || text.indexOf(placeholder(name), at + 1) >= 0) throw new Error(`the bundle must hold the lazy chunk ${name}'s placeholder exactly once`);
    if (/[^\x00-\x7f]/.test(code)) throw new Error(`the lazy chunk ${name} is not ASCII`);
    text = `${text.slice(0, at)}function keyrunnerChunk_${name}() {/*${encodeChunkComment(code)}*/}${text.slice(at + placeholder(name).length)}`;
  }
  return text;
}

/**
 * Main build: every import of a lazy package resolves to a stand-in module that, when first evaluated,
 * compiles its chunk and hands out the specifier's namespace. The stand-ins are CommonJS, so esbuild
 * evaluates them where they are first required — inside the lazily imported modules that use them.
 */
export function lazyChunkPlugin(loaderPath: string): Plugin {
  const owner = new Map<string, { chunk: LazyChunk; index: number }>();
  for (const chunk of LAZY_CHUNKS) chunk.specifiers.forEach((s, index) => owner.set(s, { chunk, index }));
  return {
    name: "keyrunner-lazy-chunks",
    setup(build: PluginBuild) {
      build.onResolve({ filter: LAZY_PACKAGES }, (args) => {
        if (owner.has(args.path)) return { path: args.path, namespace: "keyrunner-lazy" };
        return { errors: [{ text: `${args.path} (imported by ${args.importer}) belongs to a lazy chunk but is not listed in LAZY_CHUNKS (compiler/phases/6-bundle/lazy-chunks.ts)` }] };
      });
      build.onResolve({ filter: /^keyrunner-chunk-source:/ }, (args) => ({ path: args.path, namespace: "keyrunner-lazy" }));
      build.onLoad({ filter: /.*/, namespace: "keyrunner-lazy" }, (args) => {
        if (args.path.startsWith("keyrunner-chunk-source:")) {
          const name = args.path.slice("keyrunner-chunk-source:".length);
          return { contents: `module.exports = ${placeholder(name)};\n`, loader: "js" };
        }
        const { chunk, index } = owner.get(args.path)!;
        return {
          contents: [
            `// ${args.path}: in the lazy chunk "${chunk.name}" (${chunk.why}), compiled when first evaluated.`,
            `const { loadChunk } = require(${JSON.stringify(loaderPath)});`,
            `module.exports = loadChunk(${JSON.stringify(chunk.name)}, () => require(${JSON.stringify(`keyrunner-chunk-source:${chunk.name}`)})).m${index};`,
            "",
          ].join("\n"),
          loader: "js",
          resolveDir: join(loaderPath, ".."),
        };
      });
    },
  };
}
