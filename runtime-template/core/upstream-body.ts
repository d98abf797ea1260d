// An upstream body made fit for the agent: decoded only from encodings on the allow-list, parsed as JSON
// within a nesting limit, redacted, then `output` applied — or a typed problem, never the body unfiltered.

import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import type { ToolModule } from "../contract/tool-module.js";
import { applyOutput } from "./output-filter.js";
import { MAX_DEPTH, type Redactor } from "./redact.js";

/** The content codings the runtime decodes (and so the only ones it asks upstreams for). */
export const DECODABLE_ENCODINGS = ["gzip", "deflate", "br"] as const;
export const ACCEPT_ENCODING = DECODABLE_ENCODINGS.join(", ");

export type BodyProblem = "undecodable_encoding" | "undecodable_body" | "too_large" | "too_deep" | "output_filter_failed";

export type BodyResult = { ok: true; value: unknown } | { ok: false; problem: BodyProblem; message: string };

/** What each problem tells the agent: no detail of the body itself. */
export const BODY_PROBLEM_MESSAGES: Record<BodyProblem, string> = {
  undecodable_encoding: "the upstream response is in a content encoding KeyRunner cannot inspect",
  undecodable_body: "the upstream response could not be decoded",
  too_large: "the upstream response is too large",
  too_deep: `the upstream response is nested deeper than ${MAX_DEPTH} levels`,
  output_filter_failed: "the upstream response could not be filtered by the tool's output rules",
};

export interface BodyOptions {
  maxResponseBytes: number;
  redactor: Redactor;
  output: ToolModule["output"];
  /** The output filter; a parameter so that its failure can be tested. */
  filter?: typeof applyOutput;
}

const fail = (problem: BodyProblem): BodyResult => ({ ok: false, problem, message: BODY_PROBLEM_MESSAGES[problem] });

/** The codings of a Content-Encoding header, in the order they were applied; undefined if one is not decodable. */
export function contentCodings(header: string | string[] | undefined): string[] | undefined {
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  const codings = text.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "" && c !== "identity");
  return codings.every((c) => c === "x-gzip" || (DECODABLE_ENCODINGS as readonly string[]).includes(c)) ? codings : undefined;
}

function decompress(bytes: Buffer, coding: string, maxOutputLength: number): Buffer {
  const limit = { maxOutputLength };
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
  const text = bytes.toString("utf8");
  const { redactor, output } = options;
  const filtering = output.pick.length > 0 || output.redact.length > 0;
  // An empty body holds nothing to filter or to leak.
  if (text.trim() === "") return { ok: true, value: text };
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
    return { ok: true, value: redactor.text(text) };
  }
  const redacted = redactor.mayHoldSecret(text) ? redactor.json(parsed) : parsed;
  if (!filtering) return { ok: true, value: redacted };
  try {
    return { ok: true, value: (options.filter ?? applyOutput)(redacted, output) };
  } catch {
    return fail("output_filter_failed");
  }
}
