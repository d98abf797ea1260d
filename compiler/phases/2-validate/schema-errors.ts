// Turns ajv errors into diagnostics at the YAML node they concern, one per place, in words a person
// can act on: a schema's `description` explains a pattern, a near-miss key gets "did you mean".

import type { ErrorObject } from "ajv";
import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { closestName, didYouMean } from "../../diagnostics/suggest.js";
import type { ConfigDocument, DocumentPath } from "../1-load/config-document.js";

export function reportSchemaErrors(doc: ConfigDocument, errors: readonly ErrorObject[], what: string, log: DiagnosticLog): void {
  // if/then bookkeeping says nothing a person can act on; the branch's own errors do. Errors inside
  // propertyNames are explained by the propertyNames error that names the property.
  const useful = errors.filter((e) => e.keyword !== "if" && !e.schemaPath.includes("/propertyNames/"));
  const typeErrorAt = new Set(useful.filter((e) => e.keyword === "type").map((e) => e.instancePath));
  const unknownKeys = useful.filter((e) => e.keyword === "additionalProperties");
  const seen = new Set<string>();
  for (const error of useful) {
    if (error.keyword !== "type" && typeErrorAt.has(error.instancePath)) continue;
    const key = `${error.keyword}:${error.instancePath}:${JSON.stringify(error.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const path = toPath(error.instancePath);
    const where = describePath(path, what);
    switch (error.keyword) {
      case "required": {
        const missing = String(error.params.missingProperty);
        // `descripton:` is reported as an unknown key with "did you mean"; a second error would only repeat it.
        const misspelt = unknownKeys.some(
          (u) => u.instancePath === error.instancePath && closestName(String(u.params.additionalProperty), [missing]) !== undefined,
        );
        if (!misspelt) log.report("KR2001", doc.spanAt(path, "key"), `${where} is missing the required key \`${missing}\``);
        break;
      }
      case "additionalProperties": {
        const extra = String(error.params.additionalProperty);
        const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
        log.report("KR2002", doc.spanAt([...path, extra], "key"), `unknown key \`${extra}\` in ${where}`, {
          hint: didYouMean(extra, known) ?? (known.length > 0 ? `expected one of: ${known.join(", ")}` : undefined),
        });
        break;
      }
      case "type":
        log.report("KR2003", doc.spanAt(path), `${where} must be ${article(String(error.params.type))}`);
        break;
      case "propertyNames":
        reportBadName(doc, error, errors, path, where, log);
        break;
      default:
        reportInvalidValue(doc, error, path, where, log);
    }
  }
}

function reportBadName(doc: ConfigDocument, error: ErrorObject, all: readonly ErrorObject[], path: DocumentPath, where: string, log: DiagnosticLog): void {
  const name = String(error.params.propertyName);
  const cause = all.find((e) => e.instancePath === error.instancePath && e.schemaPath.startsWith(`${error.schemaPath}/`));
  const rule = (error.schema as { description?: string } | undefined)?.description;
  const message =
    cause?.keyword === "not" ? `\`${name}\` is a reserved name and cannot be used in ${where}` : `\`${name}\` in ${where} must be ${rule ?? "a valid name"}`;
  log.report("KR2004", doc.spanAt([...path, name], "key"), message);
}

const FIELD_TYPES = ["string", "number", "integer", "boolean", "string[]", "number[]", "integer[]"];

function reportInvalidValue(doc: ConfigDocument, error: ErrorObject, path: DocumentPath, where: string, log: DiagnosticLog): void {
  const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
  if (allowed !== undefined) {
    log.report("KR2004", doc.spanAt(path), `${where} must be one of: ${allowed.map(String).join(", ")}`, {
      hint: didYouMean(String(error.data), allowed.map(String)),
    });
    return;
  }
  const description = (error.parentSchema as { description?: string } | undefined)?.description;
  if (error.keyword === "pattern" && description !== undefined) {
    const written = String(error.data);
    // A field's short-form type: a misspelt one (`integr`, `sting?`) gets the nearest type as its hint.
    const hint = description.startsWith("a type:") ? didYouMean(written, FIELD_TYPES.map((t) => (written.endsWith("?") ? `${t}?` : t))) : undefined;
    log.report("KR2004", doc.spanAt(path), `${where} must be ${description}, not \`${written}\``, hint === undefined ? undefined : { hint });
    return;
  }
  log.report("KR2004", doc.spanAt(path), `${where} ${error.message ?? "is not valid"}`);
}

function toPath(instancePath: string): DocumentPath {
  if (instancePath === "") return [];
  return instancePath
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `allow[0].when` style, or "the tool" for the document itself. */
export function describePath(path: DocumentPath, what: string): string {
  if (path.length === 0) return `the ${what}`;
  let out = "";
  for (const segment of path) out += typeof segment === "number" ? `[${segment}]` : out === "" ? segment : `.${segment}`;
  return `\`${out}\``;
}

function article(type: string): string {
  const words = type.split(",").map((t) => (t === "integer" ? "an integer" : t === "object" ? "a map" : t === "array" ? "a list" : `a ${t}`));
  return words.join(" or ");
}
