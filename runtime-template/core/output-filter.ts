// A tool's `output`: `pick` keeps only the named paths of a JSON response, `redact` blanks others.

import { REDACTED } from "./redact.js";

type Path = Array<string | number>;

function parsePath(path: string): Path {
  const out: Path = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] !== undefined ? Number(match[2]) : match[1]!);
  return out;
}

function getPath(value: unknown, path: Path): { found: boolean; value?: unknown } {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) return { found: false };
    current = (current as Record<string | number, unknown>)[key];
  }
  return { found: true, value: current };
}

function setPath(target: Record<string, unknown>, path: Path, value: unknown): void {
  let current: Record<string | number, unknown> = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      Object.defineProperty(current, key, { value, enumerable: true, writable: true, configurable: true });
      return;
    }
    if (!Object.hasOwn(current, key)) Object.defineProperty(current, key, { value: typeof path[i + 1] === "number" ? [] : {}, enumerable: true, writable: true, configurable: true });
    current = current[key] as Record<string | number, unknown>;
  });
}

export function applyOutput(value: unknown, output: { readonly pick: readonly string[]; readonly redact: readonly string[] }): unknown {
  let result = value;
  if (output.pick.length > 0) {
    const picked: Record<string, unknown> = {};
    for (const path of output.pick) {
      const parsed = parsePath(path);
      const found = getPath(value, parsed);
      if (found.found) setPath(picked, parsed, found.value);
    }
    result = picked;
  }
  if (output.redact.length > 0 && result !== null && typeof result === "object") {
    result = structuredClone(result);
    for (const path of output.redact) {
      const parsed = parsePath(path);
      if (getPath(result, parsed).found) setPath(result as Record<string, unknown>, parsed, REDACTED);
    }
  }
  return result;
}
