// A pattern's DFA as a readable literal for contract/dfa-match.ts: the code point classes, then one row of
// the transition table a line, under a comment naming the source pattern and where it was written.

import type { AnalysablePattern } from "../3-resolve/resolved-config.js";

/** The doc comment of a pattern constant; `where` names the YAML place (`policies/a.yaml:5`). */
export function dfaComment(pattern: AnalysablePattern, where: string): string {
  const states = pattern.matcher.next.length;
  const caseless = pattern.flags.includes("i") ? ", ignoring case," : "";
  return `\`${pattern.source}\` (${where})${caseless} as a minimal DFA of ${states} state${states === 1 ? "" : "s"}: one step per code point, linear in the input.`;
}

/** `new DfaMatcher({...})` with the table laid out for review. */
export function dfaInitializer(pattern: AnalysablePattern): string {
  const { starts, classes, next, accepting } = pattern.matcher;
  const list = (values: readonly string[] | readonly number[]) => `[${values.join(", ")}]`;
  return [
    "new DfaMatcher({",
    `  starts: ${list(starts.map(codePoint))},`,
    `  classes: ${list(classes)},`,
    `  next: [`,
    ...next.map((row, state) => `    ${list(row)}, // state ${state}${accepting.includes(state) ? ", accepting" : ""}`),
    `  ],`,
    `  accepting: ${list(accepting)},`,
    "})",
  ].join("\n");
}

/** A code point in hex, with the character alongside when it is printable ASCII. */
function codePoint(c: number): string {
  const hex = `0x${c.toString(16)}`;
  const char = String.fromCodePoint(c);
  return c > 0x20 && c < 0x7f && char !== "*" && char !== "/" ? `${hex} /* ${char} */` : hex;
}
