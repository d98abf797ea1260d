// The audit record of SPEC section 5: field names are constants, and the hash chains each record to
// the one before it (HMAC-SHA256 when KEYRUNNER_AUDIT_KEY is set).

import { createHmac, hash as oneShotHash } from "node:crypto";

export const AUDIT_VERSION = 1;
export const GENESIS = "0".repeat(64);

export interface AuditRecord {
  v: number;
  seq: number;
  time: string;
  id: string;
  config: string;
  agent: string;
  tool: string;
  input: unknown;
  reason?: string | undefined;
  decision: "allow" | "deny" | "invalid" | "outcome" | "pending_approval" | "approval_granted" | "approval_denied";
  rule?: string | undefined;
  approval_id?: string | undefined;
  /** The approver who granted or denied an approval. */
  approver?: string | undefined;
  status?: string | undefined;
  http_status?: number | undefined;
  duration_ms?: number | undefined;
  /** `build --shadow`: the candidate config's decision, on a decision record where it differs. */
  shadow?: ShadowDecision | undefined;
  /** Decision records: the deployment context (`serve --context`) the request was decided in. */
  context?: Readonly<Record<string, string>> | undefined;
  /** Decision records of a config with time windows: the instant the clock read at decision time. */
  decided_at?: string | undefined;
  /** A request no rule allows: what failed, for each allow rule that governs the agent (always in full). */
  detail?: ReadonlyArray<{ readonly rule: string; readonly failed: readonly string[] }> | undefined;
  prev: string;
  hash: string;
}

export interface ShadowDecision {
  decision: "allow" | "deny" | "invalid" | "not_found" | "pending_approval";
  rule?: string | undefined;
}

export type AuditEntry = Omit<AuditRecord, "v" | "seq" | "time" | "prev" | "hash">;

/**
 * JSON text that stays on one line for every reader: JSON.stringify leaves U+2028, U+2029 and U+0085 raw,
 * and a reader that splits lines on them (JavaScript's own line terminators, Python's str.splitlines)
 * would see a record end inside a string and a forged one begin. Outside strings a record is ASCII, so
 * escaping them in the whole text escapes them in its strings.
 */
const LINE_SEPARATORS = /[\u0085\u2028\u2029]/g;
export function lineSafe(text: string): string {
  // Looked for with indexOf, not the regular expression: ~0.1 against ~0.9 µs for a 600-character record
  // (twice per request), as V8 finds a character natively and a one-byte string holds no U+2028 at all.
  const found = text.indexOf("\u0085") !== -1 || text.indexOf("\u2028") !== -1 || text.indexOf("\u2029") !== -1;
  return found ? text.replace(LINE_SEPARATORS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : text;
}

/**
 * The hash covers the record's JSON text exactly as written, without its final `hash` field: a verifier
 * parses the line, drops `hash`, and stringifies again (JSON.parse/JSON.stringify keep key order and
 * number formatting, so the text is reproduced byte for byte).
 */
export function chainHash(text: string | Uint8Array, key: string | undefined): string {
  return key === undefined ? oneShotHash("sha256", text, "hex") : createHmac("sha256", key).update(text).digest("hex");
}

const str = JSON.stringify as (value: string) => string;
const optionalString = (name: string, value: string | undefined) => (value === undefined ? "" : `,"${name}":${str(value)}`);
const optionalJson = (name: string, value: unknown) => (value === undefined ? "" : `,"${name}":${JSON.stringify(value)}`);
// A finite number's JSON text is its String() (JSON.stringify's own rule), without the serialiser's call.
const optionalNumber = (name: string, value: number | undefined) => (value === undefined ? "" : `,"${name}":${Number.isFinite(value) ? String(value) : "null"}`);

/**
 * `,"name":"value"` for values that repeat from record to record (the config, agents, tools, rules,
 * statuses), serialised once. Bounded in count and size: past FRAGMENT_CACHE_SIZE entries (a client
 * naming ever new agents or tools), and for values over FRAGMENT_MAX_LENGTH, a value is serialised each
 * time, as any other.
 */
const FRAGMENT_CACHE_SIZE = 1024;
const FRAGMENT_MAX_LENGTH = 128;
type FieldName = "config" | "agent" | "tool" | "rule" | "approver" | "status";
// One map per field, keyed by the value itself: a string the engine passes again hashes once.
const fragments: Record<FieldName, Map<string, string>> = { config: new Map(), agent: new Map(), tool: new Map(), rule: new Map(), approver: new Map(), status: new Map() };
function repeatedField(name: FieldName, value: string | undefined): string {
  if (value === undefined) return "";
  const cache = fragments[name];
  let fragment = cache.get(value);
  if (fragment === undefined) {
    fragment = optionalString(name, value);
    if (cache.size < FRAGMENT_CACHE_SIZE && value.length <= FRAGMENT_MAX_LENGTH) cache.set(value, fragment);
  }
  return fragment;
}

/** The input as JSON; a value that JSON cannot carry (an SDK caller's BigInt, a cycle) is recorded as such. */
function inputText(input: unknown): string {
  try {
    return JSON.stringify(input) ?? "null";
  } catch {
    return str("[input not representable as JSON]");
  }
}

/** The fields every record of one request shares. */
export type RequestEntry = Pick<AuditEntry, "id" | "config" | "agent" | "tool" | "input" | "reason">;
/** The fields that differ between the records of one request. */
export type RecordFields = Omit<AuditEntry, keyof RequestEntry>;

/**
 * The shared fields as JSON text, in record order: `"id":…,"config":…,"agent":…,"tool":…,"input":…`
 * and `,"reason":…` when present. A request's decision and outcome records are built from the same
 * text, so its input is serialised once.
 */
export function requestText(entry: RequestEntry): string {
  return `"id":${str(entry.id)}${repeatedField("config", entry.config)}${repeatedField("agent", entry.agent)}${repeatedField("tool", entry.tool)},"input":${inputText(entry.input)}` + optionalString("reason", entry.reason);
}

/**
 * The record's JSON text without `hash`, from the request's shared text: fields in a fixed order and
 * absent optional fields left out — exactly the text JSON.stringify gives for the parsed record, so a
 * verifier reproduces it.
 */
export function recordTextFrom(seq: number, time: string, request: string, fields: RecordFields, prev: string): string {
  return lineSafe(
    `{"v":${AUDIT_VERSION},"seq":${seq},"time":"${time}",${request},"decision":"${fields.decision}"` +
    repeatedField("rule", fields.rule) +
    optionalString("approval_id", fields.approval_id) +
    repeatedField("approver", fields.approver) +
    repeatedField("status", fields.status) +
    optionalNumber("http_status", fields.http_status) +
    optionalNumber("duration_ms", fields.duration_ms) +
    (fields.shadow === undefined ? "" : `,"shadow":${JSON.stringify({ decision: fields.shadow.decision, ...(fields.shadow.rule === undefined ? {} : { rule: fields.shadow.rule }) })}`) +
    optionalJson("context", fields.context) +
    optionalString("decided_at", fields.decided_at) +
    optionalJson("detail", fields.detail) +
    `,"prev":"${prev}"}`
  );
}

/** The record's JSON text without `hash`, for one entry. */
export function recordText(seq: number, time: string, entry: AuditEntry, prev: string): string {
  return recordTextFrom(seq, time, requestText(entry), entry, prev);
}

/**
 * The record time, ISO 8601 in UTC to the millisecond. Formatting a Date costs about a microsecond
 * here, twice per request; the text up to the second is kept and only the milliseconds are written.
 */
let clockSecond = Number.NaN;
let clockPrefix = "";
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    // "2026-12-01T19:54:10." — cut before "000Z", which also holds for six-digit years.
    clockPrefix = new Date(second * 1000).toISOString().slice(0, -4);
    clockSecond = second;
  }
  const milli = ms - second * 1000;
  return `${clockPrefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

/**
 * Seals a record into `into` at `offset`: its JSON text (as recordTextFrom gives it) as UTF-8, then the
 * chained hash of those bytes as the last field and a newline. The bytes are encoded once, hashed where
 * they lie and written from there. `into` must have room for `maxSealedBytes(text)`; returns the hash
 * and the offset after the line.
 */
export function sealRecordInto(text: string, key: string | undefined, into: Buffer, offset: number): { hash: string; end: number } {
  const textEnd = offset + into.write(text, offset, "utf8");
  const hash = chainHash(into.subarray(offset, textEnd), key);
  // The text's final "}" makes way for the hash field.
  const end = textEnd - 1 + into.write(`,"hash":"${hash}"}\n`, textEnd - 1, "latin1");
  return { hash, end };
}

/** Room a sealed record can take: UTF-8 needs at most 3 bytes per UTF-16 unit; the hash field 76. */
export function maxSealedBytes(text: string): number {
  return text.length * 3 + 80;
}
