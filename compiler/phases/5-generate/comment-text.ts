// Text from the config (a description, a pattern's source, a file name) placed in a generated comment.
// It must stay a comment: the two characters that close a block comment, in a doc comment, or a line
// break in a `//` comment, would make the rest of it code — run by the bundle at start and by
// `keyrunner explain` and `diff` in the compiler. Every comment the generator writes with such text goes
// through one of these two.

const CLOSES_BLOCK = /\*\//g;
const LINE_BREAKS: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029" };

/** Inside a doc comment: a star and a slash together are written `*\/`. Line breaks stay (it may span lines). */
export function inDocComment(text: string): string {
  return text.replace(CLOSES_BLOCK, "*\\/");
}

/** Inside `// …`: every character that ends a line in JavaScript, written as its escape; and as above. */
export function inLineComment(text: string): string {
  return inDocComment(text).replace(/[\n\r\u2028\u2029]/g, (c) => LINE_BREAKS[c]!);
}
