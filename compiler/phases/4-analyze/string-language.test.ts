// String languages: intersections of prefixes, suffixes and patterns, emptiness, and escaping into u-flag patterns.
import { describe, expect, it } from "vitest";
import { escapeLiteral } from "../3-resolve/regex-pattern.js";
import { complementOf, finiteLanguage, intersectAll, languageOf, shortestWord } from "./string-language.js";

describe("string languages", () => {
  it.each([
    ["a prefix language's shortest word is the prefix", languageOf("pi_test_[\\s\\S]*"), 0, Infinity, "pi_test_"],
    ["a minimum length pads with readable characters", languageOf("pi_[\\s\\S]*"), 5, Infinity, "pi_aa"],
    ["a maximum length below every word: none", languageOf("pi_test_[\\s\\S]*"), 0, 4, undefined],
    ["the complement of a finite set avoids its words", complementOf(finiteLanguage(["a", "b"])), 1, 1, "c"],
    ["the empty word only when nothing longer is allowed", languageOf("(?:)"), 0, 0, ""],
  ])("%s", (_name, dfa, min, max, expected) => {
    expect(shortestWord(dfa, min, max)).toBe(expected);
  });

  it("intersects a prefix with a search pattern", () => {
    const both = intersectAll([languageOf("a[\\s\\S]*"), languageOf("[\\s\\S]*(?:b)")]);
    expect(shortestWord(both, 1, Infinity)).toBe("ab");
    expect(intersectAll([languageOf("a[\\s\\S]*"), languageOf("b[\\s\\S]*")]).isEmpty).toBe(true);
  });

  it("escapes every character that means something in a u-flag pattern", () => {
    const literal = "a.b*c+(d)[e]{f}|g^h$i\\j/k?";
    expect(new RegExp(`^${escapeLiteral(literal)}$`, "u").test(literal)).toBe(true);
    expect(languageOf(escapeLiteral(literal)).test([...literal].map((c) => c.codePointAt(0)!))).toBe(true);
  });
});
