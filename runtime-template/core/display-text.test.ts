// displaySafe: agent text shown to a person cannot move the cursor or fake a line, and ordinary text stays as it is.
import { describe, expect, it } from "vitest";
import { displaySafe } from "./display-text.js";

describe("displaySafe", () => {
  it.each([
    ["a carriage return that would rewrite the row", "refund\rAPPROVED", "refund\\x0dAPPROVED"],
    ["an ANSI escape that would clear the screen", "x\u001b[2Jy", "x\\x1b[2Jy"],
    ["a C1 control (CSI as one byte)", "x\u009b2Jy", "x\\x9b2Jy"],
    ["a right-to-left override", "pay \u202eoed", "pay \\u202eoed"],
    ["a bidirectional isolate", "a\u2066b\u2069c", "a\\u2066b\\u2069c"],
    ["a line separator", "a\u2028b", "a\\u2028b"],
    ["a newline and a tab", "a\nb\tc", "a\\x0ab\\x09c"],
    ["DEL", "a\u007fb", "a\\x7fb"],
  ])("escapes %s", (_name, input, shown) => {
    expect(displaySafe(input)).toBe(shown);
  });

  it("leaves ordinary text, accents and emoji as they are", () => {
    expect(displaySafe("Rückerstattung für Zoë 🎉 — 50 €")).toBe("Rückerstattung für Zoë 🎉 — 50 €");
  });
});
