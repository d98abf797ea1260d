// Redaction of every secret form (raw, base64 at any offset, base64url, hex, URL-encoded), judged on decoded text.
import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED } from "./redact.js";

const SECRET = "sk_live_51HqLyjWDarjtT1zdp7dc";
const redactor = createRedactor([SECRET]);
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("redaction", () => {
  it.each([
    ["raw", `key=${SECRET}`],
    ["base64 at offset 0", b64(SECRET)],
    ["base64 at offset 1", b64(`x${SECRET}`)],
    ["base64 at offset 2", b64(`xy${SECRET}`)],
    ["inside a Basic credential", `Basic ${b64(`${SECRET}:`)}`],
    ["base64url", Buffer.from(`??${SECRET}`).toString("base64url")],
    ["hex", Buffer.from(SECRET).toString("hex")],
    ["upper-case hex", Buffer.from(SECRET).toString("hex").toUpperCase()],
    ["URL-encoded", encodeURIComponent(`${SECRET}/?`)],
  ])("finds the secret %s", (_name, text) => {
    const out = redactor.text(text);
    expect(out).toContain(REDACTED);
    for (const form of [SECRET, b64(SECRET).slice(4, -4), Buffer.from(SECRET).toString("hex")]) expect(out).not.toContain(form);
  });

  it("judges JSON on the decoded strings: \\u escapes and escaped slashes", () => {
    const escaped = `{"k":"${SECRET.split("").map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"}`;
    expect(redactor.mayHoldSecret(escaped)).toBe(true);
    expect(redactor.json(JSON.parse(escaped))).toEqual({ k: REDACTED });
    expect(redactor.json({ [SECRET]: 1 })).toEqual({ [REDACTED]: 1 });
  });

  it("skips the walk only when the raw JSON has no escape and no secret form", () => {
    expect(redactor.mayHoldSecret('{"id":"re_1"}')).toBe(false);
    expect(redactor.mayHoldSecret(`{"id":"${b64(`x${SECRET}`)}"}`)).toBe(true);
    expect(redactor.mayHoldSecret('{"id":"a\\/b"}')).toBe(true);
  });

  it("leaves text without the secret untouched", () => {
    expect(redactor.text("nothing to see")).toBe("nothing to see");
  });

  it("copies on write: a clean value comes back as itself, a dirty one as a copy, the original untouched", () => {
    const clean = JSON.parse('{"a":[1,{"b":"x"}],"__proto__":{"c":"y"}}');
    expect(redactor.json(clean)).toBe(clean);
    const dirty = { keep: { same: "ok" }, list: ["fine", `x${SECRET}`], deep: { [SECRET]: true } };
    const out = redactor.json(dirty) as typeof dirty;
    expect(out).toEqual({ keep: { same: "ok" }, list: ["fine", `x${REDACTED}`], deep: { [REDACTED]: true } });
    expect(out).not.toBe(dirty);
    expect(dirty.list[1]).toBe(`x${SECRET}`);
    expect(Object.keys(dirty.deep)).toEqual([SECRET]);
    // a __proto__ key stays an own property in the copy, and pollutes nothing
    const polluted = redactor.json(JSON.parse(`{"__proto__":{"polluted":"${SECRET}"}}`)) as Record<string, unknown>;
    expect(Object.getOwnPropertyNames(polluted)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
