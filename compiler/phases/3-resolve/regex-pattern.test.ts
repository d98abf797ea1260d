// Which regular expressions the analyser accepts as decidable and linear-time, and which it rejects, with why.
import { describe, expect, it } from "vitest";
import { checkPattern } from "./regex-pattern.js";

describe("regular expressions the analyser accepts", () => {
  it.each([
    ["a leading anchor keeps the rest open", "^pi_", "(?:pi_)[\\s\\S]*"],
    ["a trailing anchor keeps the start open", "@acme\\.example$", "[\\s\\S]*(?:@acme\\.example)"],
    ["an unanchored pattern is found anywhere", "sk_live_", "[\\s\\S]*(?:sk_live_)[\\s\\S]*"],
    ["anchors per top-level alternative", "^a|b$", "(?:a)[\\s\\S]*|[\\s\\S]*(?:b)"],
    ["a fully anchored pattern is its own language", "^[a-z]+@acme\\.example$", "(?:[a-z]+@acme\\.example)"],
  ])("%s", (_name, source, language) => {
    expect(checkPattern(source)).toEqual({ ok: true, pattern: { source, language } });
  });
});

describe("regular expressions the analyser rejects", () => {
  it.each([
    ["syntax error", "^pi_[a-z", "KR3018", "invalid regular expression `^pi_[a-z`: Unterminated character class"],
    ["back-reference", "(a)\\1", "KR3019", "regular expression `(a)\\1` cannot be analysed: it uses a back-reference (`\\1`)"],
    ["look-ahead", "^(?!x)a", "KR3019", "regular expression `^(?!x)a` cannot be analysed: it uses a look-around (`(?!x)`)"],
    ["look-behind", "(?<=x)a", "KR3019", "regular expression `(?<=x)a` cannot be analysed: it uses a look-around (`(?<=x)`)"],
    ["word boundary", "\\bfoo", "KR3019", "regular expression `\\bfoo` cannot be analysed: it uses a word boundary (`\\b`)"],
    ["anchor inside a group", "(^a|b)", "KR3019", "regular expression `(^a|b)` cannot be analysed: it uses an anchor (`^`) that is not at the start or end of the pattern"],
    ["nested quantifiers (exponential)", "^(a+)+$", "KR3020", 'regular expression `^(a+)+$` can take super-linear time (exponential backtracking on input like "aaa…")'],
    ["unanchored greedy prefix (polynomial)", "[a-z]+@x$", "KR3020", 'regular expression `[a-z]+@x$` can take super-linear time (polynomial backtracking on input like "aaa…")'],
  ])("%s", (_name, source, code, message) => {
    expect(checkPattern(source)).toEqual({ ok: false, code, message });
  });
});
