// Renders diagnostics for people (esbuild/miette style, with a code frame) and for machines (--format json).

import type { Diagnostic } from "./diagnostic.js";

/** The text of each config file by its display path, for code frames. */
export type SourceTexts = ReadonlyMap<string, string>;

export function renderHuman(diagnostics: readonly Diagnostic[], sources: SourceTexts): string {
  return diagnostics.map((d) => renderOne(d, sources)).join("\n");
}

function renderOne(d: Diagnostic, sources: SourceTexts): string {
  const { file, line, column, length } = d.span;
  const out = [`${file}:${line}:${column} ${d.severity} ${d.code} ${d.message}`];
  const text = sources.get(file);
  if (text !== undefined) out.push(...codeFrame(text, line, column, length));
  if (d.witness !== undefined) out.push(`  witness: ${JSON.stringify(d.witness)}`);
  if (d.hint !== undefined) out.push(`  hint: ${d.hint}`);
  return out.join("\n") + "\n";
}

/** Columns of a frame line shown around the span: a minified or generated line is not echoed whole. */
const FRAME_WIDTH = 160;

/** The line before, the line itself, and a caret line under the span (clipped to the line). */
function codeFrame(text: string, line: number, column: number, length: number): string[] {
  const lines = text.split(/\r?\n/);
  const target = lines[line - 1];
  if (target === undefined) return [];
  const first = Math.max(1, line - 1);
  const width = String(line).length;
  const start = Math.min(column - 1, target.length);
  // A long line is shown from a little before the span, FRAME_WIDTH columns, with `…` where it was cut.
  const offset = target.length <= FRAME_WIDTH ? 0 : Math.max(0, Math.min(start - 40, target.length - FRAME_WIDTH));
  const shown = (text: string) => `${offset > 0 ? "…" : ""}${text.slice(offset, offset + FRAME_WIDTH)}${text.length > offset + FRAME_WIDTH ? "…" : ""}`;
  const frame: string[] = [];
  for (let n = first; n <= line; n++) {
    frame.push(`  ${String(n).padStart(width)} | ${shown(lines[n - 1] ?? "")}`.trimEnd());
  }
  const lead = start - offset + (offset > 0 ? 1 : 0);
  const carets = Math.max(1, Math.min(length, target.length - start, FRAME_WIDTH - (start - offset)));
  frame.push(`  ${" ".repeat(width)} | ${" ".repeat(lead)}${"^".repeat(carets)}`);
  return frame;
}

export function renderSummary(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** SPEC section 4: `{ diagnostics: [ { code, severity, message, file, line, column, hint?, rules?, witness? } ] }`. */
export function renderJson(diagnostics: readonly Diagnostic[]): string {
  return JSON.stringify(
    {
      diagnostics: diagnostics.map((d) => ({
        code: d.code,
        severity: d.severity,
        message: d.message,
        file: d.span.file,
        line: d.span.line,
        column: d.span.column,
        ...(d.hint === undefined ? {} : { hint: d.hint }),
        ...(d.rules === undefined ? {} : { rules: d.rules }),
        ...(d.witness === undefined ? {} : { witness: d.witness }),
      })),
    },
    null,
    2,
  );
}
