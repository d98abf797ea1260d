// Compiles one of the bundle's lazy chunks (node-redis, the X.509 stack, the MCP SDK, undici) the first
// time a module that uses it is evaluated. The chunk is CommonJS text built by `keyrunner build` and
// embedded in this same file as the comment of a function (compiler/phases/6-bundle/lazy-chunks.ts): V8
// skips a comment faster than it scans a string literal, and `Function.prototype.toString` gives the text
// back exactly. Never read from disk, never from a request. `--disallow-code-generation-from-strings`
// keeps forbidding eval and `new Function` to every caller; this loader compiles only those build-time
// constants, through node:vm.

import { createRequire } from "node:module";

const compiled = new Map<string, unknown>();

/** In a chunk's comment, `*\/` would end it: it is written as DEL "1", and DEL itself as DEL "0". */
const ESCAPE = "\u007f";

/** A chunk's text as the body of a block comment (ASCII in, ASCII out; `decodeChunkComment` reverses it). */
export function encodeChunkComment(text: string): string {
  return text.replaceAll(ESCAPE, `${ESCAPE}0`).replaceAll("*/", `${ESCAPE}1`);
}

/** The text a function whose body is only `/* encodeChunkComment(text) *\/` holds. */
export function decodeChunkComment(holder: () => void): string {
  const source = Function.prototype.toString.call(holder);
  const body = source.slice(source.indexOf("/*") + 2, source.lastIndexOf("*/"));
  return body.replace(/\u007f([01])/g, (_m, code: string) => (code === "0" ? ESCAPE : "*/"));
}

/** The chunks compiled so far in this process, in order (a server without Redis, --ca or MCP has none). */
export function loadedChunks(): string[] {
  return [...compiled.keys()];
}

/** The chunk's exports (each listed specifier's module as m0, m1, ...), compiled once per process. */
export function loadChunk(name: string, holder: () => () => void): Record<string, unknown> {
  let exports = compiled.get(name) as Record<string, unknown> | undefined;
  if (exports === undefined) {
    const { compileFunction } = process.getBuiltinModule("node:vm") as typeof import("node:vm");
    const module = { exports: {} as Record<string, unknown> };
    const body = compileFunction(decodeChunkComment(holder()), ["exports", "require", "module"], { filename: `keyrunner.mjs (lazy chunk ${name})` }) as (
      exports: unknown,
      require: NodeJS.Require,
      module: { exports: unknown },
    ) => void;
    body(module.exports, createRequire(import.meta.url), module);
    exports = module.exports;
    compiled.set(name, exports);
  }
  return exports;
}
