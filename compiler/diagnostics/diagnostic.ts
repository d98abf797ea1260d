// Diagnostics as data: one log per compilation, gathered across a phase and checked at each boundary.

import { codes, type Code, type Severity } from "./codes.js";

/** A place in a config file: 1-based line and column, length in characters (at least 1). */
export interface Span {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly length: number;
}

/** A concrete request that a diagnostic talks about (an overlap witness). */
export interface WitnessRequest {
  agent: string;
  tool: string;
  input: Record<string, unknown>;
  reason?: string;
  /** The deployment context the request is decided in, when a rule tests it. */
  context?: Record<string, string>;
  /** An instant (ISO 8601, UTC) both rules' time windows contain, when a rule has one. */
  at?: string;
}

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
  readonly rules?: readonly string[];
  readonly witness?: WitnessRequest;
}

export interface ReportOptions {
  hint?: string | undefined;
  rules?: readonly string[];
  witness?: WitnessRequest;
}

export class DiagnosticLog {
  readonly #items: Diagnostic[] = [];

  report(code: Code, span: Span, message: string, options: ReportOptions = {}): void {
    const info = codes[code];
    const hint = options.hint ?? ("help" in info ? info.help : undefined);
    this.#items.push({
      code,
      severity: info.severity,
      message,
      span,
      ...(hint === undefined ? {} : { hint }),
      ...(options.rules === undefined ? {} : { rules: options.rules }),
      ...(options.witness === undefined ? {} : { witness: options.witness }),
    });
  }

  hasErrors(): boolean {
    return this.#items.some((d) => d.severity === "error");
  }

  /** All diagnostics, in a stable order: file, line, column, code, message. */
  sorted(): Diagnostic[] {
    return [...this.#items].sort(
      (a, b) =>
        compare(a.span.file, b.span.file) ||
        a.span.line - b.span.line ||
        a.span.column - b.span.column ||
        compare(a.code, b.code) ||
        compare(a.message, b.message),
    );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
