// The DFA matcher agrees with JavaScript's RegExp (`u`, and `iu` for case-insensitive conditions) on
// random patterns of the supported subset and random strings, and stays linear on hostile input.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { patternAutomaton } from "../../compiler/phases/3-resolve/pattern-automaton.js";
import { checkPattern, searchLanguageOf } from "../../compiler/phases/3-resolve/regex-pattern.js";
import { regexSource, shortText, textPiece } from "../../test/support/regex-generators.js";
import { DfaMatcher, compiledPatterns } from "./dfa-match.js";

/** KR_DFA_RUNS sets the number of random patterns (default 500; `test:full` raises it). */
const RUNS = Number(process.env.KR_DFA_RUNS ?? 500);
/** The body limit: no string the server accepts is longer. */
const BODY_LIMIT = 1024 * 1024;

function matcherFor(source: string, flags = "u"): DfaMatcher {
  const automaton = patternAutomaton(searchLanguageOf(source), flags);
  // A random pattern over the state limit is one `check` rejects (KR3024): nothing to compare.
  fc.pre(automaton.ok);
  return new DfaMatcher(automaton.table);
}

const anchored = regexSource;
const piece = textPiece;
const text = shortText;

describe("the DFA matcher agrees with RegExp", () => {
  it("on random patterns and strings, with the `u` flag", () => {
    fc.assert(
      fc.property(anchored, fc.array(text, { minLength: 1, maxLength: 8 }), (source, samples) => {
        const matcher = matcherFor(source);
        const regex = new RegExp(source, "u");
        for (const sample of samples) expect(matcher.test(sample), `${source} on ${JSON.stringify(sample)}`).toBe(regex.test(sample));
      }),
      { numRuns: RUNS },
    );
  });

  it("on random patterns and strings, case-insensitively (`iu`): ignore_case is just another automaton", () => {
    fc.assert(
      fc.property(anchored, fc.array(text, { minLength: 1, maxLength: 8 }), (source, samples) => {
        const matcher = matcherFor(source, "iu");
        const regex = new RegExp(source, "iu");
        for (const sample of samples) expect(matcher.test(sample), `${source}/iu on ${JSON.stringify(sample)}`).toBe(regex.test(sample));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it.each([
    ["a lone high surrogate is one code point", "^\\ud83d$", "\ud83d", true],
    ["a surrogate pair is one code point, not two", "^..$", "😀", false],
    ["a surrogate pair matches one `.`", "^.$", "😀", true],
    ["a high surrogate of a pair is not found alone", "\\ud83d", "😀", false],
    ["`.` does not match a line separator", "^.$", "\u2028", false],
    ["`$` is the end of the input, not of a line", "^a$", "a\n", false],
  ])("%s", (_name, source, sample, expected) => {
    expect(new RegExp(source, "u").test(sample)).toBe(expected);
    expect(matcherFor(source).test(sample)).toBe(expected);
  });
});

describe("the DFA matcher is linear in the input", () => {
  // scslre misses these (issue 13): as backtracking RegExps, 30 characters block the event loop.
  const hostile: Array<[string, string]> = [
    ["^(x|x)*y$", "x"],
    ["^(a|a)*$", "a"],
    ["^(\\d|\\d\\d)*x$", "1"],
    ["^(a|aa)+$", "a"],
    ["^(a+)+$", "a"],
    ["([a-z]+)*@x$", "a"],
  ];
  it.each(hostile)("`%s` answers within a bound on 1 MiB of hostile input", (source, unit) => {
    const matcher = matcherFor(source);
    for (const input of [unit.repeat(30) + "!", unit.repeat(BODY_LIMIT - 1) + "!", unit.repeat(BODY_LIMIT)]) {
      const started = performance.now();
      matcher.test(input);
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(matcher.test(unit.repeat(30) + "!")).toBe(false);
  });

  it("random patterns answer within a bound on inputs up to the body limit", () => {
    fc.assert(
      fc.property(anchored, piece, fc.integer({ min: 1, max: BODY_LIMIT }), (source, unit, length) => {
        const matcher = matcherFor(source);
        const input = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
        const started = performance.now();
        matcher.test(input);
        matcher.test(input + "\ud83d");
        expect(performance.now() - started).toBeLessThan(500);
      }),
      { numRuns: 40 },
    );
  });
});

describe("ajv's pattern engine", () => {
  it("gives the automaton compiled for a source, and refuses one that was not compiled", () => {
    const check = checkPattern("^(a|aa)+$");
    if (!check.ok) throw new Error(check.message);
    const lookup = compiledPatterns([["^(a|aa)+$", new DfaMatcher(check.pattern.matcher)]]);
    expect(lookup("^(a|aa)+$").test("aaaa")).toBe(true);
    expect(() => lookup("^b$")).toThrow('no compiled automaton for pattern "^b$"');
  });

  it("refuses a malformed table", () => {
    expect(() => new DfaMatcher({ starts: [0], classes: [0], next: [[2]], accepting: [] })).toThrow("malformed DFA table");
    expect(() => new DfaMatcher({ starts: [1], classes: [0], next: [[0]], accepting: [] })).toThrow("malformed DFA table");
    expect(() => new DfaMatcher({ starts: [0], classes: [1], next: [[0]], accepting: [] })).toThrow("malformed DFA table");
    expect(() => new DfaMatcher({ starts: [0, 0], classes: [0, 0], next: [[0]], accepting: [] })).toThrow("malformed DFA table");
    expect(() => new DfaMatcher({ starts: [0], classes: [0], next: [[0]], accepting: [1] })).toThrow("malformed DFA table");
  });
});
