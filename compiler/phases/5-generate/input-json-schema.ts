// The JSON Schema of a tool's input: what the validator enforces and what agents are shown.

import type { InputField, ResolvedTool, ValueConstraints } from "../3-resolve/resolved-config.js";

export function inputJsonSchema(tool: ResolvedTool): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: tool.fields.filter((f) => !f.optional).map((f) => f.name),
    properties: Object.fromEntries(tool.fields.map((f) => [f.name, fieldSchema(f)])),
  };
}

function fieldSchema(field: InputField): Record<string, unknown> {
  const base: Record<string, unknown> = field.description === undefined ? {} : { description: field.description };
  if (field.default !== undefined) base.default = field.default;
  // Agents are told the JSON Schema formats; `path` is KeyRunner's own and is not one.
  const format = field.format === undefined || field.format === "path" ? {} : { format: field.format };
  if (!field.array) return { ...base, type: field.type, ...format, ...constraints(field) };
  return {
    ...base,
    type: "array",
    items: { type: field.type, ...format, ...constraints(field.items ?? {}) },
    ...(field.minItems === undefined ? {} : { minItems: field.minItems }),
    ...(field.maxItems === undefined ? {} : { maxItems: field.maxItems }),
  };
}

function constraints(c: ValueConstraints): Record<string, unknown> {
  return {
    ...(c.enum === undefined ? {} : { enum: c.enum }),
    ...(c.minimum === undefined ? {} : { minimum: c.minimum }),
    ...(c.maximum === undefined ? {} : { maximum: c.maximum }),
    ...(c.minLength === undefined ? {} : { minLength: c.minLength }),
    ...(c.maxLength === undefined ? {} : { maxLength: c.maxLength }),
    ...(c.pattern === undefined ? {} : { pattern: c.pattern.source }),
  };
}
