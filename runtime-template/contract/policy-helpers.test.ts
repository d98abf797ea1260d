// The predicates the generated decision code calls.
import { describe, expect, it } from "vitest";
import { hasReason } from "./policy-helpers.js";

describe("hasReason (require_reason)", () => {
  it("holds for a string of 1 to 1000 characters that says something", () => {
    for (const reason of ["customer asked", "x", " a ", "é", "退款", "x".repeat(1000)]) expect(hasReason(reason), reason).toBe(true);
  });
  it("does not hold for none, too long, or one of white space, controls and zero-width characters only", () => {
    for (const reason of [undefined, "", "x".repeat(1001), " ", "\t\n", "\u0000", "\u200b", "\u00a0\u2028", "\ufeff", "\u200b \u0000"]) expect(hasReason(reason), JSON.stringify(reason)).toBe(false);
  });
});
