import { describe, expect, it } from "vitest";
import { builtinImportsAsLookups } from "./builtin-imports.js";

describe("built-in imports as lookups", () => {
  it("rewrites a top-level import of a built-in, renames included, in place", () => {
    const code = ['import { a, b as c } from "node:fs";', "use(a, c);", 'import { join } from "node:path";'].join("\n");
    expect(builtinImportsAsLookups(code)).toBe(['const { a, b: c } = process.getBuiltinModule("node:fs");', "use(a, c);", 'const { join } = process.getBuiltinModule("node:path");'].join("\n"));
  });

  it("leaves default and namespace imports, packages, indented text and unselected modules as they are", () => {
    const kept = [
      'import { default as fs } from "node:fs";',
      'import fs2 from "node:fs";',
      'import * as net from "node:net";',
      'import { x } from "undici";',
      '  import { y } from "node:os";',
      'const s = `import { z } from "node:os";`;',
    ].join("\n");
    expect(builtinImportsAsLookups(kept)).toBe(kept);
    expect(builtinImportsAsLookups('import { a } from "node:fs";', (m) => m === "http2")).toBe('import { a } from "node:fs";');
  });
});
