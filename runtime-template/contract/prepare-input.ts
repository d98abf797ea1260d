// Makes a request's input ready for policy: a copy of it (the caller's object is never changed), its
// `format` fields canonicalised, then validated (defaults applied to the copy).

import { canonicalValue, FORMAT_NAMES, type InputFormat } from "./canonical-format.js";
import type { PreparedInput, ValidationError } from "./tool-module.js";

export type InputFormats = Readonly<Record<string, InputFormat>>;

export function prepareInput(value: unknown, formats: InputFormats, validate: (copy: unknown) => ValidationError[] | undefined): PreparedInput {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const errors = validate(value);
    return errors === undefined ? { input: value as Record<string, unknown> } : { errors };
  }
  // A shallow copy suffices: defaults are set, and canonical values replaced, at the top level only
  // (a list field with a format gets a new array).
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const errors: ValidationError[] = [];
  for (const [field, format] of Object.entries(formats)) {
    if (!Object.hasOwn(copy, field)) continue;
    const raw = copy[field];
    const message = `is not a valid ${FORMAT_NAMES[format]}`;
    if (typeof raw === "string") {
      const canonical = canonicalValue(format, raw);
      if (canonical === undefined) errors.push({ path: field, message });
      else copy[field] = canonical;
    } else if (Array.isArray(raw)) {
      copy[field] = raw.map((item: unknown, index) => {
        if (typeof item !== "string") return item;
        const canonical = canonicalValue(format, item);
        if (canonical === undefined) errors.push({ path: `${field}.${index}`, message });
        return canonical ?? item;
      });
    }
    // Anything else is left for the validator to report as the wrong type.
  }
  if (errors.length > 0) return { errors };
  const invalid = validate(copy);
  return invalid === undefined ? { input: copy } : { errors: invalid };
}
