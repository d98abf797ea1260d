// Compiles one of the bundle's lazy chunks (node-redis, the X.509 stack, the MCP SDK) the first time a
// module that uses it is evaluated. The chunk is CommonJS text built by `keyrunner build` and embedded in
// this same file as a string literal (compiler/phases/6-bundle/lazy-chunks.ts): never read from disk,
// never from a request. `--disallow-code-generation-from-strings` keeps forbidding eval and `new
// Function` to every caller; this loader compiles only those build-time constants, through node:vm.

import { createRequire } from "node:module";

const compiled = new Map<string, unknown>();

/** The chunks compiled so far in this process, in order (a server without Redis, --ca or MCP has none). */
export function loadedChunks(): string[] {
  return [...compiled.keys()];
}

/** The chunk's exports (each listed specifier's namespace as m0, m1, ...), compiled once per process. */
export function loadChunk(name: string, source: () => string): Record<string, unknown> {
  let exports = compiled.get(name) as Record<string, unknown> | undefined;
  if (exports === undefined) {
    const { compileFunction } = process.getBuiltinModule("node:vm") as typeof import("node:vm");
    const module = { exports: {} as Record<string, unknown> };
    const body = compileFunction(source(), ["exports", "require", "module"], { filename: `keyrunner.mjs (lazy chunk ${name})` }) as (
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
