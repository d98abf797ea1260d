import { closeSync, openSync, readdirSync, readlinkSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { coverForExec, handOnNamed, namedDescriptorProblem, namedDescriptors } from "./inherited-descriptors.js";

describe("namedDescriptors", () => {
  it("finds /dev/fd/N, /proc/self/fd/N and /proc/PID/fd/N as a value or after =, above 2 only", () => {
    expect(namedDescriptors(["serve", "--secrets-file", "/dev/fd/63", "--agents=/proc/self/fd/7", "--ca", "/proc/123/fd/12", "--audit", "/dev/fd/1"])).toEqual([7, 12, 63]);
  });

  it("ignores paths that only contain such a name", () => {
    expect(namedDescriptors(["--audit", "/tmp/dev/fd/9.jsonl", "--agents", "x/dev/fd/9", "/dev/fd/63/x", "/dev/fd/"])).toEqual([]);
  });
});

describe("coverForExec", () => {
  it("is empty without named descriptors above 4 (3 and 4 the supervisor replaces itself)", () => {
    expect(coverForExec(["--secrets-file", "/dev/fd/4"], "pipe", 3)).toEqual([]);
  });

  it("puts the cover at each named descriptor and leaves the gaps alone, from fd 4 on", () => {
    const entries = coverForExec(["--secrets-file", "/dev/fd/8", "--agents", "/dev/fd/6"], 99, undefined);
    expect(entries).toEqual(["ignore", "ignore", 99, "ignore", 99]);
  });

  it("covers Node's IPC channel too", () => {
    expect(coverForExec([], 99, 7)).toEqual(["ignore", "ignore", "ignore", 99]);
  });
});

describe("handOnNamed", () => {
  it("hands each named descriptor above 4 on at its own number", () => {
    expect(handOnNamed(["--secrets-file", "/dev/fd/7", "--agents", "/dev/fd/3"])).toEqual(["ignore", "ignore", 7]);
    expect(handOnNamed(["--audit", "a.jsonl"])).toEqual([]);
  });
});

describe("namedDescriptorProblem", () => {
  it("refuses 3 and 4 where the children use them, and descriptors above 1023", () => {
    expect(namedDescriptorProblem(["--secrets-file", "/dev/fd/3"], true)).toMatch(/descriptor 3 is KeyRunner's own/);
    expect(namedDescriptorProblem(["--secrets-file", "/dev/fd/1024"], false)).toMatch(/above 1023/);
  });

  it("accepts an open file, refuses a descriptor that is not open and one of this process's own pipes", () => {
    const file = openSync(import.meta.filename, "r");
    try {
      expect(namedDescriptorProblem(["--secrets-file", `/dev/fd/${file}`], true)).toBeUndefined();
      expect(namedDescriptorProblem(["--secrets-file", `/dev/fd/${file}`], true, 2)).toBeUndefined();
    } finally {
      closeSync(file);
    }
    expect(namedDescriptorProblem(["--secrets-file", `/dev/fd/${file}`], false)).toMatch(/is not open/);
    // libuv's signal pipe: both of its ends are this process's.
    const links = readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        return [{ fd: Number(fd), target: readlinkSync(`/proc/self/fd/${fd}`) }];
      } catch {
        return []; // the listing's own descriptor
      }
    });
    const pipe = links.find((l) => l.target.startsWith("pipe:") && links.filter((o) => o.target === l.target).length === 2);
    expect(pipe).toBeDefined();
    expect(namedDescriptorProblem(["--agents", `/dev/fd/${pipe!.fd}`], false)).toMatch(/one of Node's own/);
  });
});
