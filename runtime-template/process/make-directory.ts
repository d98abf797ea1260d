// `mkdir -p` that ends. Node's `mkdirSync(path, { recursive: true })` loops for ever where mkdir says
// ENOENT under a parent that exists (`/proc/x`, `/sys/x`): it makes the parent, finds it there, retries.
// This climbs from the directory asked for to the first one that exists (or is made), then makes the
// rest downwards once each, so every failure is an error naming the directory it was.

import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { systemErrorText } from "./system-error-text.js";

/** A path the operator gave that cannot serve as what it was given for; the message names it. */
export class PathError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const cannotMake = (dir: string, reason: string): PathError => new PathError(dir, `cannot make the directory ${dir}: ${reason}`);

/** Makes `path` and its missing parents (each with `mode`, less the umask); a directory there is kept. */
export function makeDirectory(path: string, mode?: number): void {
  const target = resolve(path);
  const options = mode === undefined ? undefined : { mode };
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const made = makeOne(dir, options);
    if (made === "made") break;
    if (made === "exists") {
      if (dir === target && !isDirectory(target)) throw cannotMake(target, "it exists and is not a directory");
      break;
    }
    // Only a missing parent is worth climbing for; the root cannot be missing.
    const code = (made as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw cannotMake(target, `${fileOnTheWay(target) ?? "a part of it"} is not a directory (ENOTDIR)`);
    if (code !== "ENOENT" || dirname(dir) === dir) throw cannotMake(dir, systemErrorText(made));
    missing.push(dir);
  }
  for (const dir of missing.reverse()) {
    const made = makeOne(dir, options);
    if (made === "made" || (made === "exists" && isDirectory(dir))) continue;
    if (made === "exists") throw cannotMake(dir, "it exists and is not a directory");
    // Its parent is there, so this file system (a /proc, a /sys) keeps directories from being made in it.
    throw cannotMake(dir, (made as NodeJS.ErrnoException).code === "ENOENT" ? "this file system does not allow one there (ENOENT)" : systemErrorText(made));
  }
}

function makeOne(dir: string, options: { mode: number } | undefined): "made" | "exists" | unknown {
  try {
    mkdirSync(dir, options);
    return "made";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EEXIST" ? "exists" : error;
  }
}

/** The first of the path's parents that is there and is not a directory. */
function fileOnTheWay(path: string): string | undefined {
  const parents: string[] = [];
  for (let dir = dirname(path); dirname(dir) !== dir; dir = dirname(dir)) parents.unshift(dir);
  return parents.find((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false);
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}
