// Input text no place of a request can carry as it was checked: a lone UTF-16 surrogate has no UTF-8
// form, so a URL, a form or a header would change it (or refuse it) after policy had judged it.

import type { ValidationError } from "../contract/tool-module.js";

const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (text: string) => !LONE_SURROGATE.test(text);

/** The errors of an input (and reason) holding such text: the request is invalid. */
export function unencodable(input: Record<string, unknown>, why: string | undefined): ValidationError[] | undefined {
  const errors: ValidationError[] = [];
  const message = "is not valid Unicode text (a lone surrogate), so it cannot be sent as it was checked";
  for (const [field, value] of Object.entries(input)) {
    if (typeof value === "string" && !wellFormed(value)) errors.push({ path: field, message });
    else if (Array.isArray(value)) value.forEach((item, i) => typeof item === "string" && !wellFormed(item) && errors.push({ path: `${field}.${i}`, message }));
  }
  if (why !== undefined && !wellFormed(why)) errors.push({ path: "reason", message });
  return errors.length > 0 ? errors : undefined;
}
