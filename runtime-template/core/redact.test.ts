// Redaction of every secret form (raw, base64 at any offset, base64url, hex, URL-encoded), judged on decoded text.
import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED, stringsOf } from "./redact.js";

const SECRET = "sk_live_51HqLyjWDarjtT1zdp7dc";
const redactor = createRedactor([SECRET]);
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("a secret in another case", () => {
  it.each([
    ["upper-cased", (s: string) => s.toUpperCase()],
    ["lower-cased", (s: string) => s.toLowerCase()],
    ["case-swapped", (s: string) => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("")],
  ])("is redacted %s: the reader would have all of it but its case", (_name, change) => {
    const secret = "sk_live_51HxYzAbCdEfGhIjKlMnOp";
    const redactor = createRedactor([secret]);
    expect(redactor.text(`status: ${change(secret)} ok`)).toBe("status: [REDACTED] ok");
    expect(redactor.text(`piece ${change(secret).slice(3, 18)}`)).toBe("piece [REDACTED]");
  });
});

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

  it("skips the walk only when the JSON text, escapes decoded, has no secret form and no escaped backslash", () => {
    expect(redactor.mayHoldSecret('{"id":"re_1"}')).toBe(false);
    expect(redactor.mayHoldSecret('{"id":"a\\/b"}')).toBe(false);
    expect(redactor.mayHoldSecret(`{"id":"${b64(`x${SECRET}`)}"}`)).toBe(true);
    expect(redactor.mayHoldSecret(`{"id":"${SECRET.slice(0, 6)}\\u00${SECRET.charCodeAt(6).toString(16)}${SECRET.slice(7)}"}`)).toBe(true);
    expect(redactor.mayHoldSecret('{"id":"a\\\\u0041"}')).toBe(true);
  });

  // Issue 13, point 2: each of these reached the agent before.
  const bytes = Buffer.from(SECRET);
  const percent = (upper: boolean) => [...bytes].map((b) => `%${upper ? b.toString(16).toUpperCase() : b.toString(16)}`).join("");
  it.each([
    ["every byte percent-encoded, lower-case hex", percent(false)],
    ["every byte percent-encoded, upper-case hex", percent(true)],
    ["some bytes percent-encoded", [...SECRET].map((c, i) => (i % 3 === 0 ? `%${c.charCodeAt(0).toString(16)}` : c)).join("")],
    ["mixed-case hex", bytes.toString("hex").replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c))],
    ["base64 wrapped with CR/LF", Buffer.from(`ab${SECRET}cd`).toString("base64").replace(/(.{8})/g, "$1\r\n")],
    ["base64 wrapped with LF", Buffer.from(`a${SECRET}`).toString("base64").replace(/(.{5})/g, "$1\n")],
    ["its first 20 characters", `id=${SECRET.slice(0, 20)};`],
    ["its last 20 characters", `id=${SECRET.slice(-20)};`],
    ["20 characters from the middle of a base64 credential", Buffer.from(`Basic ${SECRET}:`).toString("base64").slice(8, 28)],
    ["12 bytes of it, no more", SECRET.slice(5, 17)],
    ["JSON \\u escapes in plain text", SECRET.split("").map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")],
    ["\\u escapes of JSON inside JSON (an NDJSON line)", JSON.stringify({ line: JSON.stringify({ k: SECRET.replace("_", "\\u005f") }) })],
  ])("redacts %s", (_name, text) => {
    const out = redactor.text(text);
    expect(out).toContain(REDACTED);
    for (let i = 0; i + 12 <= SECRET.length; i++) expect(out).not.toContain(SECRET.slice(i, i + 12));
  });

  it("reads an NDJSON line whose string ends in an escaped backslash as a reader does: the backslash is the secret's", () => {
    const withSlash = createRedactor(["Bhw/hzYc\\"]);
    const line = `{"line":${JSON.stringify("\\u0042hw\\u002fhz\\u0059c\\")}}`;
    expect(withSlash.text(line)).toBe(`{"line":"${REDACTED}"}`);
  });

  it("leaves fewer than 12 bytes of a secret alone", () => {
    expect(redactor.text(`x ${SECRET.slice(0, 11)} y`)).toBe(`x ${SECRET.slice(0, 11)} y`);
    expect(redactor.text(Buffer.from(SECRET.slice(3, 14)).toString("hex"))).toBe(Buffer.from(SECRET.slice(3, 14)).toString("hex"));
  });

  it("redacts a secret shorter than 12 bytes whole, in its forms", () => {
    const short = createRedactor(["pw_8Xy2k1"]);
    expect(short.text("pass=pw_8Xy2k1")).toBe(`pass=${REDACTED}`);
    expect(short.text(Buffer.from("pw_8Xy2k1").toString("base64"))).toContain(REDACTED);
    expect(short.text("pw_8Xy2k")).toBe("pw_8Xy2k");
  });

  it("is linear in the size of a value: a secret 30 objects deep, and 64, take milliseconds", () => {
    for (const depth of [22, 30, 63]) {
      let value: unknown = `x${SECRET}`;
      for (let i = 0; i < depth; i++) value = { a: value, b: [value === undefined ? 0 : 1] };
      const started = performance.now();
      const out = JSON.stringify(redactor.json(value));
      expect(performance.now() - started).toBeLessThan(200);
      expect(out).toContain(REDACTED);
      expect(out).not.toContain(SECRET);
    }
  });

  it("is linear in text dense with escape characters: a megabyte of `%`, of backslashes, of both (one took 15 s)", () => {
    for (const text of ["%".repeat(1_000_000), "\\".repeat(1_000_000), "%\\x".repeat(333_333), `${"%".repeat(500_000)}${SECRET}${"%".repeat(500_000)}`]) {
      const started = performance.now();
      const out = redactor.text(text);
      // A linear scan of 1 MB takes tens of milliseconds; the quadratic search took seconds.
      expect(performance.now() - started).toBeLessThan(3000);
      expect(out.includes(SECRET)).toBe(false);
    }
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

describe("an answer to an agent that sent pieces of a secret (Redactor#knowing)", () => {
  const piece = SECRET.slice(0, 14);
  const other = SECRET.slice(12);
  it("leaves text the agent sent as it was, so an echo does not say that it is a piece", () => {
    expect(redactor.knowing([`id ${piece}`]).text(`echo: ${piece}`)).toBe(`echo: ${piece}`);
    expect(redactor.knowing([`id ${piece}`]).json({ echo: piece, [piece]: 1 })).toEqual({ echo: piece, [piece]: 1 });
    expect(redactor.text(`echo: ${piece}`)).toBe("echo: [REDACTED]");
  });

  it("still redacts every piece the agent did not send, and a match reaching past what it sent", () => {
    const knowing = redactor.knowing([piece]);
    expect(knowing.text(`echo: ${other}`)).toBe("echo: [REDACTED]");
    expect(knowing.text(`${piece} and ${other}`)).toBe(`${piece} and [REDACTED]`);
    expect(knowing.text(`${SECRET.slice(0, 20)}`)).toBe(REDACTED);
  });

  it("still redacts a whole secret, even one the agent sent: no answer carries one", () => {
    const knowing = redactor.knowing([SECRET, `x${SECRET}x`]);
    expect(knowing.text(`echo: ${SECRET}`)).toBe("echo: [REDACTED]");
    expect(knowing.json({ [SECRET]: SECRET })).toEqual({ [REDACTED]: REDACTED });
  });

  it("the whole-secret redactor finds whole secrets in every form, and pieces not at all", () => {
    const whole = createRedactor([SECRET], { whole: true });
    for (const form of [SECRET, SECRET.toUpperCase(), b64(`x${SECRET}`), Buffer.from(SECRET).toString("hex"), encodeURIComponent(`${SECRET}/`)]) expect(whole.text(form)).toContain(REDACTED);
    for (const form of [piece, SECRET.slice(1), b64(SECRET.slice(0, -1)), Buffer.from(SECRET.slice(1)).toString("hex")]) expect(whole.text(form)).toBe(form);
  });
});

describe("HTML and XML character references", () => {
  const refs = (text: string, style: (cp: number) => string) => [...text].map((c) => style(c.codePointAt(0)!)).join("");
  it.each([
    ["decimal", refs(SECRET, (cp) => `&#${cp};`)],
    ["hex", refs(SECRET, (cp) => `&#x${cp.toString(16)};`)],
    ["upper-case hex", refs(SECRET, (cp) => `&#X${cp.toString(16).toUpperCase()};`)],
    ["without semicolons, before a non-digit", refs(SECRET, (cp) => `&#${cp}`).replace(/&#(\d+)(?=&|$)/g, "&#$1")],
    ["every other character", [...SECRET].map((c, i) => (i % 2 ? `&#${c.codePointAt(0)};` : c)).join("")],
  ])("finds a secret written as %s references, in an HTML body", (_name, form) => {
    const out = redactor.text(`<p>key: ${form}</p>`);
    expect(out).toBe("<p>key: [REDACTED]</p>");
  });
  it("finds `&amp;` and the other named references of a secret's characters, and leaves other text alone", () => {
    const secret = "pass&word<with>\"quotes\"";
    const r = createRedactor([secret]);
    expect(r.text(`v=pass&amp;word&lt;with&gt;&quot;quotes&quot;!`)).toBe("v=[REDACTED]!");
    expect(r.text("fish &amp; chips &#169; 2026")).toBe("fish &amp; chips &#169; 2026");
  });
  it("reads numeric references with leading zeros, and HTML5's other names of Latin-1 characters", () => {
    expect(redactor.text(refs(SECRET, (cp) => `&#0000000${cp};`))).toBe(REDACTED);
    expect(redactor.text(refs(SECRET, (cp) => `&#x00000000${cp.toString(16)}`))).toBe(REDACTED);
    const r = createRedactor(["x¨©®¯±´·¸½Å÷y"]);
    expect(r.text("x&die;&COPY;&circledR;&strns;&pm;&DiacriticalAcute;&centerdot;&Cedilla;&half;&angst;&div;y")).toBe(REDACTED);
  });
  it("reads HTML's long names of ASCII characters (&DiacriticalGrave; &VerticalLine;)", () => {
    const r = createRedactor(["Zq!#$%&()*+,-./:;<=>?@[]^_`{|}~9x"]);
    expect(r.text("&#64;&#91;&#93;&#94;&#95;&DiacriticalGrave;&#123;&VerticalLine;&#125;&#126;&#57;&#120;")).toBe("[REDACTED]");
  });
  it("finds a non-ASCII secret in HTML's Latin-1 names (case-sensitive) and its ASCII ones (&lowbar; &colon; …)", () => {
    const r = createRedactor(["user_ä:pässwörd-ÄÖÜ-Zq9x"]);
    expect(r.text("<p>user&lowbar;&auml;&colon;p&auml;ssw&ouml;rd-&Auml;&Ouml;&Uuml;-Zq9x</p>")).toBe("<p>[REDACTED]</p>");
    expect(r.text("p&Auml;ssw&Ouml;rd-&auml;&ouml;&uuml;-Zq9x")).toBe("p&Auml;ssw&Ouml;rd-&auml;&ouml;&uuml;-Zq9x");
  });
});

describe("numbers, read as their digits", () => {
  const r = createRedactor(["839201746512345"]);
  it("an all-digit secret as a JSON number is [REDACTED]; other numbers stay numbers", () => {
    expect(r.json({ n: 839201746512345, m: [8392017465123, 2500, 1.5] })).toEqual({ n: REDACTED, m: [REDACTED, 2500, 1.5] });
  });
  it("a number spelled with a fraction or an exponent is judged as JSON.stringify writes it", () => {
    const text = '{"n":8392017.46512345e8}';
    expect(r.mayHoldSecret(text)).toBe(true);
    expect(r.json(JSON.parse(text))).toEqual({ n: REDACTED });
  });
  it("a number is also judged as its digits alone: a point, a sign or an exponent between them is dropped by a reader", () => {
    expect(r.json({ a: 8392017.46512345, b: -83920174.6512345, c: 8.39201746512345e-7, d: 8.39201746 })).toEqual({ a: REDACTED, b: REDACTED, c: REDACTED, d: 8.39201746 });
  });
  it("a number the agent sent is its own text (Redactor#knowing), and among the strings it sent", () => {
    expect(stringsOf({ a: 8392017465123 })).toEqual(["a", "8392017465123"]);
    expect(r.knowing(stringsOf({ a: 8392017465123 })).json({ echo: 8392017465123 })).toEqual({ echo: 8392017465123 });
  });
});

describe("stringsOf (what the agent is known to have sent)", () => {
  it("holds every string and key, however many: a guess after 20,000 others is still the agent's", () => {
    const input = { tags: Array.from({ length: 20_000 }, (_, i) => `t${i}`), last: "the guess" };
    const strings = stringsOf(input);
    expect(strings).toHaveLength(20_003);
    expect(strings.slice(-2)).toEqual(["last", "the guess"]);
  });
});
