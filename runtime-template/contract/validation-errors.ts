// Maps validator errors to SPEC section 5's `{ path, message }`, without echoing input values.

import type { ValidationError } from "./tool-module.js";

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

export function validationErrors(errors: readonly AjvError[] | null | undefined): ValidationError[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.slice(1).replace(/\//g, ".").replace(/~1/g, "/").replace(/~0/g, "~");
    if (e.keyword === "required") return { path: join(path, String(e.params.missingProperty)), message: "is required" };
    if (e.keyword === "additionalProperties") return { path: join(path, String(e.params.additionalProperty)), message: "is not an input field of this tool" };
    return { path: path === "" ? "(input)" : path, message: e.message ?? "is not valid" };
  });
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}
