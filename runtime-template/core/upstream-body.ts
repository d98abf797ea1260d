// An upstream body made fit for the agent: decoded only from encodings on the allow-list, parsed as JSON
// within a nesting limit, redacted, then `output` applied — or a typed problem, never the body unfiltered.

import type { ToolModule } from "../contract/tool-module.js";
import { applyOutput } from "./output-filter.js";
import { redactCredentialJson, redactCredentialText } from "./redact-credentials.js";
import { MAX_DEPTH, type Redactor } from "./redact.js";

/** The content codings the runtime decodes (and so the only ones it asks upstreams for). */
export const DECODABLE_ENCODINGS = ["gzip", "deflate", "br"] as const;
export const ACCEPT_ENCODING = DECODABLE_ENCODINGS.join(", ");

export type BodyProblem = "undecodable_encoding" | "undecodable_body" | "hidden_by_charset" | "too_large" | "too_deep" | "output_filter_failed";

export type BodyResult = { ok: true; value: unknown } | { ok: false; problem: BodyProblem; message: string };

/** What each problem tells the agent: no detail of the body itself. */
export const BODY_PROBLEM_MESSAGES: Record<BodyProblem, string> = {
  undecodable_encoding: "the upstream response is in a content encoding KeyRunner cannot inspect",
  undecodable_body: "the upstream response could not be decoded",
  hidden_by_charset: "the upstream response's bytes hold what its declared charset would hide, so it is not passed on",
  too_large: "the upstream response is too large",
  too_deep: `the upstream response is nested deeper than ${MAX_DEPTH} levels`,
  output_filter_failed: "the upstream response could not be filtered by the tool's output rules",
};

export interface BodyOptions {
  maxResponseBytes: number;
  redactor: Redactor;
  output: ToolModule["output"];
  /** Told how many credential-shaped strings `output.redact_credentials` replaced (for /metrics). */
  onCredentialsRedacted?: (count: number) => void;
  /** The output filter; a parameter so that its failure can be tested. */
  filter?: typeof applyOutput;
}

const fail = (problem: BodyProblem): BodyResult => ({ ok: false, problem, message: BODY_PROBLEM_MESSAGES[problem] });

/** The codings of a Content-Encoding header, in the order they were applied; undefined if one is not decodable. */
export function contentCodings(header: string | string[] | undefined): string[] | undefined {
  // The usual answer names no coding: nothing to split.
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  const codings = text.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "" && c !== "identity");
  return codings.every((c) => c === "x-gzip" || (DECODABLE_ENCODINGS as readonly string[]).includes(c)) ? codings : undefined;
}

function decompress(bytes: Buffer, coding: string, maxOutputLength: number): Buffer {
  const limit = { maxOutputLength };
  // node:zlib is loaded by the first compressed answer, not at every start.
  const { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } = process.getBuiltinModule("node:zlib");
  if (coding === "gzip" || coding === "x-gzip") return gunzipSync(bytes, limit);
  if (coding === "br") return brotliDecompressSync(bytes, limit);
  // "deflate" is zlib-wrapped by the standard; some servers send it raw.
  try {
    return inflateSync(bytes, limit);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw error;
    return inflateRawSync(bytes, limit);
  }
}

/** Whether JSON text nests arrays and objects deeper than `limit`: one pass, strings skipped. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > limit) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/**
 * The body as its reader decodes it: in the charset it declares, or by its byte-order mark, or — when it is
 * plainly UTF-16 (every other byte NUL) — as UTF-16; else UTF-8. Redaction judges that text, so a secret
 * sent as UTF-16 is found as one. A declared charset no decoder here knows cannot be inspected: undefined.
 * `utf8` says whether it was read as UTF-8 (else in a charset declared or found by shape).
 */
function decodedBody(bytes: Buffer, contentType: string | string[] | undefined): { text: string; utf8: boolean } | undefined {
  const declared = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(Array.isArray(contentType) ? contentType.join(";") : (contentType ?? ""))?.[1]?.toLowerCase();
  let charset = declared;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) charset = "utf-16le";
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) charset = "utf-16be";
  else if (charset === undefined || charset === "utf-8" || charset === "utf8") charset = utf16ByNuls(bytes) ?? "utf-8";
  if (charset === "utf-8" || charset === "utf8" || charset === "us-ascii") return { text: bytes.toString("utf8"), utf8: true };
  try {
    return { text: new TextDecoder(charset).decode(bytes), utf8: false };
  } catch {
    return undefined;
  }
}

/** The bytes after a UTF-16 or UTF-8 byte-order mark (the decoder drops it from the text). */
function withoutByteOrderMark(bytes: Buffer): Buffer {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return bytes.subarray(2);
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

const ESCAPED_NUL = /\\u0000/;
const NULS = /\u0000|\\u0000/g;

/** The bytes read as UTF-16BE (a last odd byte left out). */
function utf16beReading(bytes: Buffer): string {
  return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString("utf16le");
}

/** UTF-16 by its shape: in the first bytes, most odd (LE) or even (BE) positions NUL, and no others. */
function utf16ByNuls(bytes: Buffer): "utf-16le" | "utf-16be" | undefined {
  const n = Math.min(bytes.length, 512) & ~1;
  if (n < 4) return undefined;
  // No NUL at all (any UTF-8 text): neither shape. Found natively, before counting them one by one.
  if (bytes.subarray(0, n).indexOf(0) === -1) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i++) if (bytes[i] === 0) i % 2 === 0 ? even++ : odd++;
  const half = n / 2;
  if (odd >= half * 0.5 && even === 0) return "utf-16le";
  if (even >= half * 0.5 && odd === 0) return "utf-16be";
  return undefined;
}

/** Whether the text is empty or only white space (String#trim's set), without making a trimmed copy. */
const NOT_BLANK = /[^\s]/;
const isBlank = (text: string) => text.length === 0 || (text.charCodeAt(0) !== 123 && text.charCodeAt(0) !== 91 && !NOT_BLANK.test(text));

const looksLikeJson = (text: string) => /^[\s\uFEFF]*[[{]/.test(text);

export function readUpstreamBody(response: { headers: Record<string, string | string[] | undefined>; body: Buffer }, options: BodyOptions): BodyResult {
  const codings = contentCodings(response.headers["content-encoding"]);
  if (codings === undefined) return fail("undecodable_encoding");
  let bytes = response.body;
  try {
    for (const coding of codings.reverse()) bytes = decompress(bytes, coding, options.maxResponseBytes);
  } catch (error) {
    return fail((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? "too_large" : "undecodable_body");
  }
  const decoded = decodedBody(bytes, response.headers["content-type"]);
  if (decoded === undefined) return fail("undecodable_body");
  const { text } = decoded;
  const { redactor, output } = options;
  // A body not read as UTF-8 is judged in the readings its client could choose instead: a label that
  // lies (ASCII bytes called UTF-16LE, UTF-8 bytes called ISO-8859-1, UTF-16BE called UTF-16LE) turns
  // the key into text that holds none of its forms, which a client turns back by encoding it again.
  // Bytes that hold a form as UTF-8, one character per byte, or UTF-16 of either order, where that
  // reading is not the text itself, are not passed on from such a body (a real UTF-16 body's every
  // other byte is NUL in the one-byte readings; an ASCII ISO-8859-1 body is its reading, redacted as text).
  // (A reading is compared without a byte-order mark: the decoder drops it from the text.)
  const hides = (reading: string) => reading.replace(/^\uFEFF/, "") !== text && redactor.text(reading) !== reading;
  if (!decoded.utf8 && [bytes.toString("latin1"), bytes.toString("utf8"), bytes.toString("utf16le"), utf16beReading(bytes)].some(hides)) return fail("hidden_by_charset");
  // NULs between the key's characters (UTF-16 bytes read one per character, UTF-16 inside UTF-16, NUL
  // bytes or `\u0000` escapes in any pattern): a client drops them and has the key.
  if (bytes.includes(0) && hides(Buffer.from(withoutByteOrderMark(bytes).filter((b) => b !== 0)).toString("latin1"))) return fail("hidden_by_charset");
  if ((text.includes("\u0000") || ESCAPED_NUL.test(text)) && hides(text.replace(NULS, ""))) return fail("hidden_by_charset");
  const filtering = output.pick.length > 0 || output.redact.length > 0;
  // An empty body holds nothing to filter or to leak.
  if (isBlank(text)) return { ok: true, value: text };
  // Checked before parsing: a deep value would make every later walk (redaction, filter, the answer's
  // serialisation) recursive beyond any stack.
  if (looksLikeJson(text) && nestsDeeperThan(text, MAX_DEPTH)) return fail("too_deep");
  let parsed: unknown;
  let json = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    json = false;
  }
  if (!json) {
    // Output rules name fields of a JSON answer: a body they cannot apply to is not passed on whole.
    if (filtering) return fail("output_filter_failed");
    const secretFree = redactor.text(text);
    if (output.redactCredentials !== true) return { ok: true, value: secretFree };
    const cleaned = redactCredentialText(secretFree);
    if (cleaned.count > 0) options.onCredentialsRedacted?.(cleaned.count);
    return { ok: true, value: cleaned.text };
  }
  let redacted = redactor.mayHoldSecret(text) ? redactor.json(parsed) : parsed;
  if (output.redactCredentials === true) {
    // After secret redaction, before pick/redact (docs/policy-semantics.md).
    const cleaned = redactCredentialJson(redacted);
    if (cleaned.count > 0) options.onCredentialsRedacted?.(cleaned.count);
    redacted = cleaned.value;
  }
  if (!filtering) return { ok: true, value: redacted };
  try {
    return { ok: true, value: (options.filter ?? applyOutput)(redacted, output) };
  } catch {
    return fail("output_filter_failed");
  }
}
