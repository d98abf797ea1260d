// Random regular expressions of the supported subset (no back-references, look-arounds or inner anchors)
// and random strings that exercise what the `u` flag reads differently: astral characters, lone
// surrogates, line terminators, case-folding corner cases.

import fc from "fast-check";

const atom = fc.constantFrom(
  "a", "b", "x", "A", "\\d", "\\w", "\\s", "\\S", ".", "[a-c]", "[^a]", "[^\\n]", "[\\s\\S]",
  "😀", "\\u{1F601}", "[😀-😂]", "[^😀]", "\\ud83d", "é", "K", "ſ", "\\u212a", "\\n", "\\.", "-",
);

const { pattern } = fc.letrec<{ pattern: string; term: string }>((tie) => ({
  term: fc.oneof(
    { maxDepth: 2, withCrossShrink: true },
    atom,
    fc.tuple(tie("pattern"), fc.constantFrom("(", "(?:")).map(([p, open]) => `${open}${p})`),
    fc.tuple(tie("term"), fc.constantFrom("*", "+", "?", "{2}", "{0,3}", "{1,}", "*?")).map(([t, q]) => `(?:${t})${q}`),
  ),
  pattern: fc.oneof(
    { maxDepth: 2 },
    fc.array(tie("term"), { minLength: 1, maxLength: 3 }).map((terms) => terms.join("")),
    fc.tuple(tie("pattern"), tie("pattern")).map(([a, b]) => `${a}|${b}`),
  ),
}));

/** A pattern, anchored at either end or not, that JavaScript accepts with the `u` flag. */
export const regexSource = fc
  .tuple(fc.boolean(), pattern, fc.boolean())
  .map(([start, body, end]) => `${start ? "^" : ""}${body}${end ? "$" : ""}`)
  .filter((source) => {
    try {
      new RegExp(source, "u");
      return true;
    } catch {
      return false;
    }
  });

/** One piece of a test string; pieces concatenate, so a lone high and a lone low surrogate can pair up. */
export const textPiece = fc.constantFrom(
  "a", "b", "x", "A", "1", "9", " ", "\n", "\u2028", "😀", "😁", "\ud83d", "\ude00", "é", "É", "k", "K", "\u212a", "s", "ſ", "_", ".", "-",
);

export const shortText = fc.array(textPiece, { maxLength: 14 }).map((pieces) => pieces.join(""));
