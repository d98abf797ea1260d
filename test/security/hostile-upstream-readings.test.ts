// A hostile upstream that hands the key back in a reading the redactor did not judge (found by an
// outside attack on the built bundle, 2026-12-08): an all-digit key as a JSON number, ASCII bytes under a
// UTF-16LE label, UTF-8 bytes under an ISO-8859-1 label or in a Location header (read one character per
// byte), a non-ASCII key in HTML named references; and an agent sending a whole key as named references.
// Judged by the independent leak oracle, on the real bundle.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { findLeak } from "../support/leak-oracle.js";
import { Upstream } from "../support/upstream.js";

const NUMERIC = "839201746512345";
const ASCII = "sk_live_4eC39HqLyjWDarjtT1zdp7dcQx";
const UNICODE = "user_ä:pässwörd-ÄÖÜ-Zq9x";
const upstream = new Upstream();
let server: RunningBundle;
let dir: string;

const named = UNICODE.replace(/_/g, "&lowbar;").replace(/:/g, "&colon;").replace(/ä/g, "&auml;").replace(/ö/g, "&ouml;").replace(/Ä/g, "&Auml;").replace(/Ö/g, "&Ouml;").replace(/Ü/g, "&Uuml;");
const send = (contentType: string, body: Buffer | string, status = 200, headers: Record<string, string> = {}) => (_req: unknown, res: ServerResponse) => {
  res.writeHead(status, { "content-type": contentType, ...headers });
  res.end(body);
};
const execute = (tool: string, input: Record<string, unknown> = {}) => post(`${server.url}/v1/execute`, { agent: "agent", tool, input, reason: "test" });
const audit = () => readFileSync(join(dir, "audit.jsonl"), "utf8");
const noLeak = (text: string, secret: string) => expect(findLeak(text, secret) ?? "no leak").toBe("no leak");

beforeAll(async () => {
  await upstream.start();
  const origin = `http://127.0.0.1:${upstream.port}`;
  upstream.routes.set("/number-json", send("application/json", `{"n":${NUMERIC},"m":[${NUMERIC}],"ok":1}`));
  upstream.routes.set("/number-text", send("text/plain", NUMERIC));
  upstream.routes.set("/number-respelled", send("application/json", `{"n":${NUMERIC.slice(0, 7)}.${NUMERIC.slice(7)}e8,"m":[${NUMERIC.slice(0, 5)}.${NUMERIC.slice(5)}e10]}`));
  upstream.routes.set("/number-decimal", send("application/json", `{"n":${NUMERIC.slice(0, 7)}.${NUMERIC.slice(7)}}`));
  upstream.routes.set("/nul-escapes", send("application/json", JSON.stringify({ s: [...ASCII].join("\u0000") })));
  // Echoes the request body it got, as JSON: what the agent sent comes back.
  upstream.routes.set("/echo", (req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.body === "" ? "{}" : req.body);
  });
  upstream.routes.set("/utf16-as-latin1", send("text/plain; charset=iso-8859-1", Buffer.from(ASCII, "utf16le")));
  upstream.routes.set("/utf16be-as-utf16le", send("text/plain; charset=utf-16le", Buffer.from(ASCII, "utf16le").swap16()));
  upstream.routes.set("/utf16-in-utf16", send("text/plain; charset=utf-16le", Buffer.from(Buffer.from(ASCII, "utf16le").toString("latin1"), "utf16le")));
  upstream.routes.set("/lie-utf16", send("text/plain; charset=utf-16le", Buffer.from(ASCII.length % 2 ? `${ASCII} ` : ASCII, "latin1")));
  upstream.routes.set("/lie-latin1", send("text/plain; charset=iso-8859-1", Buffer.from(`key=${UNICODE}`, "utf8")));
  upstream.routes.set("/true-utf16", send("text/plain; charset=utf-16le", Buffer.from(`echo ${ASCII}`, "utf16le")));
  upstream.routes.set("/redirect-utf8", send("text/plain", "", 302, { location: `http://127.0.0.1/next?x=${Buffer.from(UNICODE, "utf8").toString("latin1")}` }));
  upstream.routes.set("/html-named", send("text/html", `<p>${named}</p>`));
  const tool = (name: string, path: string, secret: string, scheme = "") =>
    `tool: ${name}\ndescription: ${name}\ninput:\n  a: { type: string, optional: true }\nrun:\n  type: http\n  method: GET\n  url: ${origin}${path}\n  query:\n    a: \${a}\n  auth: { secret: ${secret}${scheme} }\n`;
  const tools = [
    tool("number_json", "/number-json", "NUMERIC_KEY"),
    tool("number_text", "/number-text", "NUMERIC_KEY"),
    tool("number_respelled", "/number-respelled", "NUMERIC_KEY"),
    tool("number_decimal", "/number-decimal", "NUMERIC_KEY"),
    tool("nul_escapes", "/nul-escapes", "ASCII_KEY"),
    `tool: echo_number\ndescription: echo_number\ninput:\n  n: { type: number, optional: true }\n  s: { type: string, optional: true }\n  t: { type: string, optional: true }\nrun:\n  type: http\n  method: POST\n  url: ${origin}/echo\n  auth: { secret: NUMERIC_KEY }\n  body:\n    n: \${n}\n    s: \${s}\n    j: "\${s}\${t}"\n`,
    tool("utf16_as_latin1", "/utf16-as-latin1", "ASCII_KEY"),
    tool("utf16be_as_utf16le", "/utf16be-as-utf16le", "ASCII_KEY"),
    tool("utf16_in_utf16", "/utf16-in-utf16", "ASCII_KEY"),
    tool("lie_utf16", "/lie-utf16", "ASCII_KEY"),
    tool("true_utf16", "/true-utf16", "ASCII_KEY"),
    tool("lie_latin1", "/lie-latin1", "UNICODE_KEY", ", scheme: basic"),
    tool("redirect_utf8", "/redirect-utf8", "UNICODE_KEY", ", scheme: basic"),
    tool("html_named", "/html-named", "UNICODE_KEY", ", scheme: basic"),
  ];
  const names = ["number_json", "number_text", "number_respelled", "number_decimal", "echo_number", "nul_escapes", "utf16_as_latin1", "utf16be_as_utf16le", "utf16_in_utf16", "lie_utf16", "true_utf16", "lie_latin1", "redirect_utf8", "html_named"];
  dir = writeConfig({
    "tools/readings.yaml": tools.join("---\n"),
    "policies/readings.yaml": `policy: readings\nallow:\n${names.map((t) => `  - tool: ${t}\n`).join("")}`,
  });
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl")], { NUMERIC_KEY: NUMERIC, ASCII_KEY: ASCII, UNICODE_KEY: UNICODE });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("the key in a reading the answer would otherwise hide", () => {
  it("an all-digit key echoed as a JSON number (also spelled with a fraction and an exponent, or with a point between its digits), in a JSON or a text/plain body, is redacted", async () => {
    for (const tool of ["number_json", "number_text", "number_respelled", "number_decimal"]) {
      const { status, body, text } = await execute(tool);
      expect(status).toBe(200);
      noLeak(text, NUMERIC);
      expect(JSON.stringify(body.result)).toContain("[REDACTED]");
    }
  });

  it("ASCII key bytes under a UTF-16LE label are not passed on (502); a true UTF-16 echo is redacted", async () => {
    const lied = await execute("lie_utf16");
    expect(lied.status).toBe(502);
    expect(lied.body.status).toBe("upstream_error");
    noLeak(lied.text, ASCII);
    const truly = await execute("true_utf16");
    expect(truly.status).toBe(200);
    expect(truly.body.result).toBe("echo [REDACTED]");
  });

  it("UTF-16 key bytes under a one-byte or the other byte order's label, UTF-16 inside UTF-16, or \\u0000 escapes between its characters, are not passed on (502)", async () => {
    for (const tool of ["utf16_as_latin1", "utf16be_as_utf16le", "utf16_in_utf16", "nul_escapes"]) {
      const { status, text } = await execute(tool);
      expect({ tool, status }).toEqual({ tool, status: 502 });
      noLeak(text, ASCII);
    }
  });

  it("UTF-8 key bytes under an ISO-8859-1 label are not passed on (502)", async () => {
    const { status, text } = await execute("lie_latin1");
    expect(status).toBe(502);
    noLeak(text, UNICODE);
  });

  it("a Location header holding the key's UTF-8 bytes is withheld", async () => {
    const { status, body, text } = await execute("redirect_utf8");
    expect(status).toBe(200);
    expect(body.result.location).toBe("[REDACTED]");
    noLeak(text, UNICODE);
  });

  it("a non-ASCII key written in HTML named references (&auml; &lowbar; …) is redacted", async () => {
    const { status, text } = await execute("html_named");
    expect(status).toBe(200);
    noLeak(text, UNICODE);
  });

  it("the audit holds none of the keys", () => {
    for (const secret of [NUMERIC, ASCII, UNICODE]) noLeak(audit(), secret);
  });
});

describe("a whole key the agent sends in named references", () => {
  it("is refused (403) and nothing reaches the upstream", async () => {
    const mark = upstream.received.length;
    for (const a of [ASCII.replace(/_/g, "&lowbar;"), named]) {
      const { status, body } = await execute("lie_utf16", { a });
      expect(status).toBe(403);
      expect(body.status).toBe("denied");
    }
    expect(upstream.since(mark)).toHaveLength(0);
  });
});

describe("a numeric key's pieces and whole, sent as numbers or numeric text", () => {
  const known = NUMERIC.slice(0, 10);
  it("a right 12-digit guess with a point, echoed, answers as a wrong one does: the agent's own number", async () => {
    const answers = [];
    for (const guess of [`${known}.${NUMERIC.slice(10, 12)}`, `${known}.${NUMERIC[10] === "9" ? "0" : "9"}${NUMERIC[11]}`]) {
      const { status, body } = await execute("echo_number", { n: Number(guess), s: guess });
      answers.push({ status, n: body.result.n === Number(guess), s: body.result.s === guess });
    }
    expect(answers).toEqual([{ status: 200, n: true, s: true }, { status: 200, n: true, s: true }]);
  });
  it("the whole key as numeric text with a point, sent or joined by a template, is refused (403) and nothing is sent", async () => {
    const mark = upstream.received.length;
    const sent = await execute("echo_number", { s: `${NUMERIC.slice(0, 8)}.${NUMERIC.slice(8)}` });
    const joined = await execute("echo_number", { s: `${NUMERIC.slice(0, 7)}.${NUMERIC.slice(7, 10)}`, t: NUMERIC.slice(10) });
    expect([sent.status, joined.status]).toEqual([403, 403]);
    expect(upstream.since(mark)).toHaveLength(0);
  });
});
