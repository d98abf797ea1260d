// `mkdir -p` that ends, and says which directory it could not make.
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDirectory } from "./make-directory.js";

const scratch = () => mkdtempSync(join(tmpdir(), "kr-mkdir-"));

describe("makeDirectory", () => {
  it("makes the missing parents with the mode asked for, and keeps a directory that is there", () => {
    const root = scratch();
    makeDirectory(join(root, "a", "b", "c"), 0o700);
    for (const dir of ["a", "a/b", "a/b/c"]) expect(statSync(join(root, dir)).mode & 0o777).toBe(0o700);
    expect(() => makeDirectory(join(root, "a", "b"))).not.toThrow();
  });

  it("ends where mkdir says ENOENT under a parent that exists (Node's recursive mkdir loops for ever)", () => {
    expect(() => makeDirectory("/proc/kr-no-such/x")).toThrow("cannot make the directory /proc/kr-no-such: this file system does not allow one there (ENOENT)");
  });

  it("names the file in the way, and a file where the directory was asked for", () => {
    const root = scratch();
    writeFileSync(join(root, "f"), "x");
    expect(() => makeDirectory(join(root, "f", "d", "e"))).toThrow(`cannot make the directory ${join(root, "f", "d", "e")}: ${join(root, "f")} is not a directory (ENOTDIR)`);
    expect(() => makeDirectory(join(root, "f"))).toThrow(`cannot make the directory ${join(root, "f")}: it exists and is not a directory`);
  });
});
