// The bundle's imports of Node's built-in modules, as lookups: `import { a, b as c } from "node:m";` becomes
// `const { a, b: c } = process.getBuiltinModule("node:m");` in place.
//
// Why: an ES module import of a built-in makes Node build the module's namespace by reading every one of
// its exports, which runs the lazy getters of fs, util, net and crypto (file streams and watchers,
// util.parseArgs, MIMEType, net.BlockList, ...) and compiles the modules they load — at every start, and
// from source, as the sandbox's code-generation flag makes Node refuse its built-ins' code cache.
// Measured: 5-8 ms of a ~170 ms start here (docs/performance.md).
//
// Order is kept: esbuild emits each module's imports at the top of that module's code, in evaluation
// order, so every binding is set before the code of its module runs; modules esbuild wraps (`__esm`, the
// ones imported dynamically) run on first use, after the whole file has been evaluated.

/** `import { a, b as c } from "node:m";` on a line of its own, at the top level (column 0). */
const BUILTIN_IMPORT = /^import \{([^}]*)\} from "node:([a-z0-9_/]+)";$/gm;

/** The imports of the built-ins `which` accepts (all, by default) as `process.getBuiltinModule` lookups. */
export function builtinImportsAsLookups(code: string, which: (module: string) => boolean = () => true): string {
  return code.replace(BUILTIN_IMPORT, (line, names: string, module: string) => {
    // A built-in's default export is its module object, not a property of it: such a line stays.
    if (!which(module) || /\bdefault\b/.test(names)) return line;
    return `const {${names.replace(/\s+as\s+/g, ": ")}} = process.getBuiltinModule("node:${module}");`;
  });
}
