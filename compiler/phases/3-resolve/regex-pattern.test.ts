// Which regular expressions the analyser accepts as decidable and linear-time, and which it rejects, with why.
import { describe, expect, it } from "vitest";
import { DfaMatcher } from "../../../runtime-template/contract/dfa-match.js";
import { checkPattern } from "./regex-pattern.js";

describe("regular expressions the analyser accepts", () => {
  it.each([
    ["a leading anchor keeps the rest open", "^pi_", "(?:pi_)[\\s\\S]*"],
    ["a trailing anchor keeps the start open", "@acme\\.example$", "[\\s\\S]*(?:@acme\\.example)"],
    ["an unanchored pattern is found anywhere", "sk_live_", "[\\s\\S]*(?:sk_live_)[\\s\\S]*"],
    ["anchors per top-level alternative", "^a|b$", "(?:a)[\\s\\S]*|[\\s\\S]*(?:b)"],
    ["a fully anchored pattern is its own language", "^[a-z]+@acme\\.example$", "(?:[a-z]+@acme\\.example)"],
  ])("%s", (_name, source, language) => {
    expect(checkPattern(source)).toMatchObject({ ok: true, pattern: { source, language } });
  });

  // scslre misses their ambiguity (issue 13); they are safe anyway because the runtime runs a DFA.
  it.each([
    ["^(x|x)*y$", 2],
    ["^(a|a)*$", 1],
    ["^(\\d|\\d\\d)*x$", 2],
    ["^(a|aa)+$", 2],
  ])("`%s` is accepted and compiled to a DFA of %i state(s)", (source, states) => {
    const check = checkPattern(source);
    expect(check.ok && check.pattern.matcher.next.length).toBe(states);
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
    [
      "a DFA over the state limit",
      "^[ab]*a[ab]{16}$",
      "KR3024",
      "regular expression `^[ab]*a[ab]{16}$` needs a deterministic automaton of more than 2000 states, over the limit of 2000",
    ],
    [
      "a DFA just over the state limit after minimisation",
      "^[ab]*a[ab]{10}$",
      "KR3024",
      "regular expression `^[ab]*a[ab]{10}$` needs a deterministic automaton of 2048 states, over the limit of 2000",
    ],
  ])("%s", (_name, source, code, message) => {
    const check = checkPattern(source);
    expect(check).toMatchObject({ ok: false, code, message });
    // Only an anchored pattern's ambiguity gets its own hint; the others keep the diagnostic's general one.
    if (source !== "^(a+)+$") expect(check).not.toHaveProperty("hint");
  });

  it("an anchored pattern's hint is about its ambiguity, never to anchor it", () => {
    const check = checkPattern("^(a+)+$");
    expect(check).toEqual({
      ok: false,
      code: "KR3020",
      message: 'regular expression `^(a+)+$` can take super-linear time (exponential backtracking on input like "aaa…")',
      hint: "the pattern can match the same text in more than one way (e.g. a repetition inside a repetition); remove the ambiguity, e.g. `(a+)+` → `a+`",
    });
  });
});

describe("case-insensitive patterns (ignore_case) are just another automaton", () => {
  const matcher = (source: string, ignoreCase: boolean) => {
    const check = checkPattern(source, { ignoreCase });
    if (!check.ok) throw new Error(check.message);
    return new DfaMatcher(check.pattern.matcher);
  };

  it("compiles with the `i` flag and keeps the case-sensitive automaton apart", () => {
    expect(checkPattern("@acme\\.example$", { ignoreCase: true })).toMatchObject({ ok: true, pattern: { flags: "iu" } });
    expect(checkPattern("@acme\\.example$")).toMatchObject({ ok: true, pattern: { flags: "u" } });
    expect(matcher("@acme\\.example$", true).test("bob@ACME.example")).toBe(true);
    expect(matcher("@acme\\.example$", false).test("bob@ACME.example")).toBe(false);
  });

  it("folds case as RegExp's `iu` does (the Kelvin sign is a k, the long s an s)", () => {
    for (const sample of ["k", "K", "\u212a", "s", "S", "\u017f", "x"]) {
      expect(matcher("^[ks]$", true).test(sample), sample).toBe(new RegExp("^[ks]$", "iu").test(sample));
    }
  });

  it("reports a syntax error with either flag set", () => {
    expect(checkPattern("^a[", { ignoreCase: true })).toEqual({ ok: false, code: "KR3018", message: "invalid regular expression `^a[`: Unterminated character class" });
  });
});
