// Parses `${field}` / `${secrets.NAME}` templates, checking each reference against the tool's fields.

import type { Span } from "../../diagnostics/diagnostic.js";
import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { Template, TemplateContext, TemplatePart } from "./resolved-config.js";

const SECRET_NAME = /^[A-Z][A-Z0-9_]*$/;
const FIELD_NAME = /^[a-z][a-z0-9_]*$/;

export interface TemplateScope {
  readonly fields: ReadonlySet<string>;
  readonly log: DiagnosticLog;
  /** Whether `${secrets.NAME}` may appear here (never where the agent can read the value back). */
  readonly secretsAllowed: boolean;
  /** Describes the place for messages, e.g. "the URL path". */
  readonly place: string;
}

/** Parses one template string. `$${` is a literal `${`. Returns undefined after reporting an error. */
export function parseTemplate(text: string, context: TemplateContext, span: Span, scope: TemplateScope): Template | undefined {
  const parts: TemplatePart[] = [];
  let literal = "";
  let ok = true;
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      literal += "${";
      i += 3;
      continue;
    }
    if (!text.startsWith("${", i)) {
      literal += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf("}", i + 2);
    if (close === -1) {
      scope.log.report("KR3010", span, `unclosed template in ${scope.place}: \`${text.slice(i)}\``);
      return undefined;
    }
    const reference = text.slice(i + 2, close).trim();
    const part = resolveReference(reference, span, scope);
    if (part === undefined) ok = false;
    else {
      if (literal !== "") parts.push({ kind: "text", text: literal });
      literal = "";
      parts.push(part);
    }
    i = close + 1;
  }
  if (literal !== "") parts.push({ kind: "text", text: literal });
  return ok ? { parts, context, span } : undefined;
}

function resolveReference(reference: string, span: Span, scope: TemplateScope): TemplatePart | undefined {
  const dot = reference.indexOf(".");
  if (dot !== -1) {
    const namespace = reference.slice(0, dot);
    const name = reference.slice(dot + 1);
    if (namespace !== "secrets") {
      const hint = namespace === "secret" || namespace === "env" ? `did you mean \`\${secrets.${name}}\`?` : undefined;
      scope.log.report("KR3010", span, `unknown template namespace \`${namespace}\` in \`\${${reference}}\``, { hint });
      return undefined;
    }
    if (!SECRET_NAME.test(name)) {
      scope.log.report("KR3016", span, `unknown secret \`${name}\` in \`\${${reference}}\`: not a valid secret name`, {
        hint: /^[a-z][a-z0-9_]*$/i.test(name) ? `secret names are upper case: \`\${secrets.${name.toUpperCase()}}\`` : undefined,
      });
      return undefined;
    }
    if (!scope.secretsAllowed) {
      scope.log.report("KR3015", span, `secret \`${name}\` used in ${scope.place}, where the agent can read it back`);
      return undefined;
    }
    return { kind: "secret", secret: name };
  }
  if (!FIELD_NAME.test(reference)) {
    scope.log.report("KR3010", span, `\`\${${reference}}\` is not a field name or \`secrets.NAME\``);
    return undefined;
  }
  if (!scope.fields.has(reference)) {
    scope.log.report("KR3009", span, `template \`\${${reference}}\` names an unknown input field`, {
      hint: didYouMean(reference, scope.fields) ?? `declare \`${reference}\` under \`input\``,
    });
    return undefined;
  }
  return { kind: "field", field: reference };
}

export function templateFields(template: Template): string[] {
  return template.parts.flatMap((p) => (p.kind === "field" ? [p.field] : []));
}

export function templateSecrets(template: Template): string[] {
  return template.parts.flatMap((p) => (p.kind === "secret" ? [p.secret] : []));
}
