// Diagnostics beside their code: did-you-mean distances, and the human and JSON renderings of a finding.
import { describe, expect, it } from "vitest";
import { DiagnosticLog } from "./diagnostic.js";
import { renderHuman, renderJson } from "./render.js";
import { closestName, editDistance } from "./suggest.js";

describe("did-you-mean", () => {
  it.each([
    ["one letter missing", "amount_cent", ["amount_cents", "payment_id"], "amount_cents"],
    ["two letters swapped", "paymnet_id", ["amount_cents", "payment_id"], "payment_id"],
    ["too far from anything", "currency", ["amount_cents", "payment_id"], undefined],
    ["case differences do not count", "POST", ["GET", "POST"], "POST"],
  ])("%s", (_name, name, candidates, expected) => {
    expect(closestName(name, candidates)).toBe(expected);
  });

  it("counts an adjacent transposition as one edit", () => {
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });
});

describe("rendering", () => {
  const log = new DiagnosticLog();
  log.report("KR3004", { file: "policies/p.yaml", line: 2, column: 7, length: 40 }, "`currency` is not an input field", { hint: "did you mean `currency_code`?" });
  const sources = new Map([["policies/p.yaml", "when:\n      currency: { equals: usd }\n"]]);

  it("prints file:line:col severity CODE message, a code frame clipped to the line, and the hint", () => {
    expect(renderHuman(log.sorted(), sources)).toBe(
      [
        "policies/p.yaml:2:7 error KR3004 `currency` is not an input field",
        "  1 | when:",
        "  2 |       currency: { equals: usd }",
        "    |       ^^^^^^^^^^^^^^^^^^^^^^^^^",
        "  hint: did you mean `currency_code`?",
        "",
      ].join("\n"),
    );
  });

  it("prints JSON without the span length", () => {
    expect(JSON.parse(renderJson(log.sorted()))).toEqual({
      diagnostics: [{ code: "KR3004", severity: "error", message: "`currency` is not an input field", file: "policies/p.yaml", line: 2, column: 7, hint: "did you mean `currency_code`?" }],
    });
  });

  it("uses the registry's help as the hint when none is given", () => {
    const other = new DiagnosticLog();
    other.report("KR3001", { file: "tools/a.yaml", line: 1, column: 7, length: 3 }, "tool `a` is already defined");
    expect(other.sorted()[0]!.hint).toBe("tool names are unique across all tool files");
  });
});

describe("a code frame on a long line", () => {
  it("shows a window around the span, marked where it was cut, with the caret under the span", () => {
    const line = `description: ${"y".repeat(30_000)}BAD${"z".repeat(30_000)}`;
    const column = line.indexOf("BAD") + 1;
    const log = new DiagnosticLog();
    log.report("KR1001", { file: "tools/t.yaml", line: 1, column, length: 3 }, "here");
    const frame = renderHuman(log.sorted(), new Map([["tools/t.yaml", line]])).split("\n").slice(1, 3);
    for (const shown of frame) expect(shown.length).toBeLessThan(180);
    const [text, carets] = frame as [string, string];
    expect(text.startsWith("  1 | …y")).toBe(true);
    expect(text.endsWith("z…")).toBe(true);
    expect(text.slice(carets.indexOf("^"), carets.lastIndexOf("^") + 1)).toBe("BAD");
  });
});
