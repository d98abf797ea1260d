// Turns ajv errors into diagnostics at the YAML node they concern, one per place, most specific first.

import type { ErrorObject } from "ajv";
import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { ConfigDocument, DocumentPath } from "../1-load/config-document.js";

export function reportSchemaErrors(doc: ConfigDocument, errors: readonly ErrorObject[], what: string, log: DiagnosticLog): void {
  // Branch bookkeeping of if/then says nothing a person can act on; the branch's own errors do.
  const useful = errors.filter((e) => e.keyword !== "if");
  const typeErrorAt = new Set(useful.filter((e) => e.keyword === "type").map((e) => e.instancePath));
  const seen = new Set<string>();
  for (const error of useful) {
    if (error.keyword !== "type" && typeErrorAt.has(error.instancePath)) continue;
    const path = toPath(error.instancePath);
    const where = describePath(path, what);
    const key = `${error.keyword}:${error.instancePath}:${JSON.stringify(error.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    switch (error.keyword) {
      case "required": {
        const missing = String(error.params.missingProperty);
        log.report("KR2001", doc.spanAt(path, path.length === 0 ? "value" : "key"), `${where} is missing the required key \`${missing}\``);
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
        break; // reported through the nested pattern/not error that names the property
      default:
        reportInvalidValue(doc, error, path, where, log);
    }
  }
}

function reportInvalidValue(doc: ConfigDocument, error: ErrorObject, path: DocumentPath, where: string, log: DiagnosticLog): void {
  const propertyName = (error.params as { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    const message =
      error.keyword === "not" ? `\`${propertyName}\` is a reserved name` : `name \`${propertyName}\` ${error.message ?? "is not valid"}`;
    log.report("KR2004", doc.spanAt([...path, propertyName], "key"), `${message} in ${where}`);
    return;
  }
  const allowed = (error.params as { allowedValues?: unknown[]; allowedValue?: unknown }).allowedValues;
  if (allowed !== undefined) {
    log.report("KR2004", doc.spanAt(path), `${where} must be one of: ${allowed.map(String).join(", ")}`, {
      hint: didYouMean(String(error.data), allowed.map(String)),
    });
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
