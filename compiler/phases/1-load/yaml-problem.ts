// A YAML parser error in plain words, at the line a person has to change. The parser reports where it
// noticed the problem (often the line before a mis-indented one) in its own terms; this names the line and
// says what is wrong with it.

export interface PlainProblem {
  readonly line: number;
  readonly column: number;
  readonly length: number;
  readonly message: string;
}

const indentOf = (line: string) => line.length - line.trimStart().length;

/** `code` and `message` from the yaml parser; `line`/`column` 1-based where it stopped. */
export function plainYamlProblem(code: string, parserMessage: string, text: string, line: number, column: number, length: number): PlainProblem {
  const lines = text.split(/\r?\n/);
  const here = lines[line - 1] ?? "";
  const first = parserMessage.split("\n")[0] ?? parserMessage;
  if (code === "DUPLICATE_KEY") {
    const key = /^\s*(?:-\s+)?([^:#]+?)\s*:/.exec(here)?.[1];
    return { line, column, length, message: key === undefined ? "a key is written twice in the same map" : `\`${key}\` is written twice in the same map` };
  }
  if (code === "TAB_AS_INDENT") return { line, column, length, message: "a tab indents this line; YAML indents with spaces" };
  if (code === "MULTILINE_IMPLICIT_KEY" || code === "BLOCK_AS_IMPLICIT_KEY" || code === "BAD_INDENT") {
    // `key: value` followed by a line indented deeper: that next line is the one to fix.
    const next = lines.findIndex((l, i) => i >= line && l.trim() !== "" && !l.trimStart().startsWith("#"));
    if (next >= 0 && indentOf(lines[next]!) > indentOf(here) && /:\s*\S/.test(here)) {
      const key = /^\s*([^:#]+?)\s*:/.exec(here)?.[1] ?? "the line above";
      const text = lines[next]!;
      return {
        line: next + 1,
        column: indentOf(text) + 1,
        length: Math.max(1, text.trim().length),
        message: `this line is indented more than \`${key}\` above it, which already has a value; indent it like the keys around it`,
      };
    }
    return { line, column, length, message: "this line's indentation does not fit the lines around it" };
  }
  if (code === "MISSING_CHAR" && /quote|"/i.test(first)) return { line, column, length, message: "a quoted string is not closed on this line" };
  return { line, column, length, message: first };
}
