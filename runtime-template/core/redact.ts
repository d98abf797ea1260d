// Replaces with [REDACTED] every run of at least WINDOW consecutive bytes of a secret (the whole secret
// when it is shorter) in any form a reader can decode — raw, `\u`/JSON escapes and %XX of any subset of
// its bytes (either hex case), hex of any case, base64 and base64url at each byte alignment, wrapped with
// CR/LF — in time linear in the text. gzip/deflate/br bodies are decompressed by the caller.

export const REDACTED = "[REDACTED]";
/** Deeper JSON than this is cut (and marked) before it reaches an answer, the audit or a log. */
export const MAX_DEPTH = 64;
export const TOO_DEEP = "[TOO DEEP]";
/** A run of this many bytes of a secret, in any form, is a leak; shorter runs are not matched. */
export const WINDOW = 12;
/** Encoded forms shorter than this (from very short secrets) would match ordinary text by chance. */
const MIN_ENCODED_FORM = 6;

export interface Redactor {
  text(value: string): string;
  /**
   * This redactor, for an answer to a request whose agent sent `known` (its input's strings and keys):
   * a match whose text lies inside one of them is left as it is. The agent already holds that text, so
   * showing it tells nothing; redacting it would tell the agent that what it sent is a piece of a secret
   * (an upstream that echoes the input would make every guess a test).
   */
  knowing(known: readonly string[]): Redactor;
  /** The redactor of the same secrets whole only (built on first use): what an input may not hold. */
  readonly whole: Redactor;
  /** Whether JSON text may hold a secret once parsed: false only when no form of a secret is in it. */
  mayHoldSecret(jsonText: string): boolean;
  /** The JSON value with every string (and key) redacted and cut at MAX_DEPTH: a copy where anything changed, else the value itself. Linear in its size. */
  json(value: unknown): unknown;
}

/** The forms a window can take in a stream of bytes: as it is, as hex, as base64 at some alignment. */
type FormClass = "raw" | "hex" | "base64";

/** The windows of one class and length, hashed: a bitmap in front of a table of exact strings. */
interface WindowSet {
  length: number;
  pow: number;
  bitmap: Uint32Array;
  table: Map<number, string[]>;
  /** Every 4-byte gram of every form: a window holds one at every (length − 3)th position of the text. */
  grams: Uint32Array;
}

/** A digit before a fraction or an exponent: a JSON number whose written form may not be its spelling. */
const RESPELLED_NUMBER = /[0-9][.eE]/;

const GRAM = 4;
const GRAM_BITS = 16;
const gramBit = (a: number, b: number, c: number, d: number) => Math.imul((a << 24) | (b << 16) | (c << 8) | d, 0x9e3779b1) >>> (32 - GRAM_BITS);

const HASH_MULTIPLIER = 0x01000193;
const BITMAP_BITS = 18;

const bitOf = (hash: number) => Math.imul(hash, 0x9e3779b1) >>> (32 - BITMAP_BITS);

function hashOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, HASH_MULTIPLIER) + text.charCodeAt(i)) | 0;
  return h;
}

function windowSet(length: number, forms: Iterable<string>): WindowSet {
  let pow = 1;
  for (let i = 1; i < length; i++) pow = Math.imul(pow, HASH_MULTIPLIER);
  const set: WindowSet = { length, pow, bitmap: new Uint32Array(1 << (BITMAP_BITS - 5)), table: new Map(), grams: new Uint32Array(1 << (GRAM_BITS - 5)) };
  for (const form of forms) {
    for (let i = 0; i + GRAM <= form.length; i++) {
      const g = gramBit(form.charCodeAt(i), form.charCodeAt(i + 1), form.charCodeAt(i + 2), form.charCodeAt(i + 3));
      set.grams[g >>> 5]! |= 1 << (g & 31);
    }
    const h = hashOf(form);
    const bit = bitOf(h);
    set.bitmap[bit >>> 5]! |= 1 << (bit & 31);
    const list = set.table.get(h);
    if (list === undefined) set.table.set(h, [form]);
    else if (!list.includes(form)) list.push(form);
  }
  return set;
}

/** Every WINDOW-byte run of the secret (or the whole secret) in each form, keyed by class and length. */
export function secretForms(secret: string, whole = false): Map<FormClass, Map<number, Set<string>>> {
  const bytes = Buffer.from(secret, "utf8");
  const k = whole ? bytes.length : Math.min(WINDOW, bytes.length);
  const out = new Map<FormClass, Map<number, Set<string>>>([["raw", new Map()], ["hex", new Map()], ["base64", new Map()]]);
  const add = (cls: FormClass, form: string) => {
    if (form.length === 0 || (cls !== "raw" && form.length < MIN_ENCODED_FORM)) return;
    const byLength = out.get(cls)!;
    let set = byLength.get(form.length);
    if (set === undefined) byLength.set(form.length, (set = new Set()));
    set.add(form);
  };
  for (let j = 0; j + k <= bytes.length; j++) {
    const window = bytes.subarray(j, j + k);
    // Raw windows are matched whatever their ASCII letters' case (an upstream that upper-cases the key
    // hands the reader all but its case): stored lower-cased, compared through LOWER_ASCII.
    const raw = lowerAscii(window.toString("latin1"));
    add("raw", raw);
    // Form encoding writes a space as `+`.
    if (raw.includes(" ")) add("raw", raw.replace(/ /g, "+"));
    add("hex", window.toString("hex"));
    // At alignment a, the window follows a other bytes in its base64 group: keep only the characters
    // the window alone determines. All are cut to the shortest such length, so one pass finds them.
    const fragments: string[] = [];
    for (let a = 0; a < 3; a++) {
      const encoded = Buffer.concat([Buffer.alloc(a), window]).toString("base64");
      fragments.push(encoded.slice(Math.ceil((a * 8) / 6), Math.floor(((a + k) * 8) / 6)));
    }
    const shortest = Math.min(...fragments.map((f) => f.length));
    for (const fragment of fragments) for (let s = 0; s + shortest <= fragment.length; s++) add("base64", fragment.slice(s, s + shortest));
  }
  return out;
}

/**
 * A view of the text as bytes: `start[i]`/`end[i]` are the source characters byte i came from (absent
 * when byte i is character i). Built with JSON escapes and/or %XX decoded, or neither.
 */
interface Stream {
  bytes: Uint8Array;
  start?: Int32Array;
  end?: Int32Array;
}

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[48 + c] = c;
for (let c = 0; c < 6; c++) HEX_VALUE[65 + c] = HEX_VALUE[97 + c] = 10 + c;
const hexAt = (s: string, i: number) => {
  const c = s.charCodeAt(i);
  return c < 128 ? HEX_VALUE[c]! : -1;
};
const SIMPLE_ESCAPES: Record<string, number> = { '"': 34, "\\": 92, "/": 47, b: 8, f: 12, n: 10, r: 13, t: 9 };

/** Text with, for each UTF-16 unit, the source characters it came from (absent: unit i is character i). */
interface Decoded {
  text: string;
  start?: Int32Array;
  end?: Int32Array;
}

/** One layer of JSON string escapes decoded (`\\u0041` and `\\n`, not a bare backslash). */
function unescapeLayer(source: Decoded, quotes = true): Decoded {
  const { text } = source;
  const n = text.length;
  const units: number[] = [];
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  const from = (i: number) => (source.start === undefined ? i : source.start[i]!);
  const to = (i: number) => (source.end === undefined ? i + 1 : source.end[i]!);
  let i = 0;
  while (i < n) {
    let unit = text.charCodeAt(i);
    let used = 1;
    if (unit === 92 && i + 1 < n) {
      const simple = quotes || text.charCodeAt(i + 1) !== 34 ? SIMPLE_ESCAPES[text[i + 1]!] : undefined;
      if (simple !== undefined) (unit = simple), (used = 2);
      else if (text.charCodeAt(i + 1) === 117) {
        const a = hexAt(text, i + 2), b = hexAt(text, i + 3), c = hexAt(text, i + 4), d = hexAt(text, i + 5);
        if ((a | b | c | d) >= 0) (unit = (a << 12) | (b << 8) | (c << 4) | d), (used = 6);
      }
    }
    start[units.length] = from(i);
    end[units.length] = to(i + used - 1);
    units.push(unit);
    i += used;
  }
  let out = "";
  for (let j = 0; j < units.length; j += 8192) out += String.fromCharCode(...units.slice(j, j + 8192));
  return { text: out, start: start.subarray(0, units.length), end: end.subarray(0, units.length) };
}

/**
 * The named character references a secret's characters can take in HTML or XML text: every one HTML
 * names for an ASCII character, and HTML 4's for U+00A0–U+00FF (`&auml;`, `&szlig;` …, in code point
 * order). Names are case-sensitive (`&Auml;` is not `&auml;`); the ASCII ones are also read in any case,
 * as browsers read `&AMP;`.
 */
const ASCII_REFERENCES: Record<string, number> = {
  diacriticalgrave: 96, verticalline: 124, tab: 9, newline: 10, excl: 33, quot: 34, num: 35, dollar: 36, percnt: 37, amp: 38, apos: 39, lpar: 40, rpar: 41, ast: 42, midast: 42,
  plus: 43, comma: 44, period: 46, sol: 47, colon: 58, semi: 59, lt: 60, equals: 61, gt: 62, quest: 63, commat: 64, lsqb: 91, lbrack: 91,
  bsol: 92, rsqb: 93, rbrack: 93, hat: 94, lowbar: 95, underbar: 95, grave: 96, lcub: 123, lbrace: 123, verbar: 124, vert: 124, rcub: 125, rbrace: 125,
};
const LATIN1_NAMES = (
  "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 " +
  "ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml " +
  "ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring " +
  "aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc " +
  "uuml yacute thorn yuml"
).split(" ");
/** HTML5's other names of Latin-1 characters. */
const LATIN1_ALIASES: Record<string, number> = {
  NonBreakingSpace: 0xa0, die: 0xa8, Dot: 0xa8, DoubleDot: 0xa8, COPY: 0xa9, circledR: 0xae, REG: 0xae, strns: 0xaf, pm: 0xb1, PlusMinus: 0xb1,
  DiacriticalAcute: 0xb4, centerdot: 0xb7, CenterDot: 0xb7, Cedilla: 0xb8, half: 0xbd, angst: 0xc5, div: 0xf7,
};
const LATIN1_REFERENCES = new Map([...LATIN1_NAMES.map((name, i) => [name, 0xa0 + i] as const), ...Object.entries(LATIN1_ALIASES)]);
const namedReference = (name: string): number | undefined => LATIN1_REFERENCES.get(name) ?? ASCII_REFERENCES[name.toLowerCase()];
const REFERENCE = /&(?:#(?:[xX]0*([0-9a-fA-F]{1,6})|0*([0-9]{1,7}))|([a-zA-Z][a-zA-Z0-9]{1,15}));?/y;

/**
 * HTML/XML character references decoded — `&#115;`, `&#x73;` (the `;` optional, as browsers read them)
 * and the named ones a key's characters can take (`&amp;`, `&lowbar;`, `&auml;` …) — each unit remembering its source.
 * A reader (a browser, a model) turns `&#115;&#107;…` back into the key.
 */
function unentityLayer(source: Decoded): Decoded {
  const { text } = source;
  const n = text.length;
  const units: number[] = [];
  const start = new Int32Array(n * 2);
  const end = new Int32Array(n * 2);
  const from = (i: number) => (source.start === undefined ? i : source.start[i]!);
  const to = (i: number) => (source.end === undefined ? i : source.end[i - 1]!);
  const push = (unit: number, s: number, e: number) => {
    start[units.length] = from(s);
    end[units.length] = to(e);
    units.push(unit);
  };
  let i = 0;
  while (i < n) {
    if (text.charCodeAt(i) === 38) {
      REFERENCE.lastIndex = i;
      const m = REFERENCE.exec(text);
      const cp = m === null ? undefined : m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? parseInt(m[2], 10) : namedReference(m[3]!);
      if (m !== null && cp !== undefined && cp <= 0x10ffff) {
        const e = i + m[0].length;
        if (cp >= 0x10000) {
          push(0xd800 + ((cp - 0x10000) >> 10), i, e);
          push(0xdc00 + ((cp - 0x10000) & 0x3ff), i, e);
        } else push(cp, i, e);
        i = e;
        continue;
      }
    }
    push(text.charCodeAt(i), i, i + 1);
    i++;
  }
  let out = "";
  for (let j = 0; j < units.length; j += 8192) out += String.fromCharCode(...units.slice(j, j + 8192));
  return { text: out, start: start.subarray(0, units.length), end: end.subarray(0, units.length) };
}

/** The text as UTF-8 bytes, %XX sequences (either hex case) read as the byte they name when `percent`. */
function byteStream(source: Decoded, percent: boolean): Stream {
  const { text } = source;
  const n = text.length;
  // Each unit yields at most 3 bytes (a surrogate pair, 2 units, yields 4).
  const bytes = new Uint8Array(n * 3);
  const start = new Int32Array(bytes.length);
  const end = new Int32Array(bytes.length);
  const from = (i: number) => (source.start === undefined ? i : source.start[i]!);
  const to = (i: number) => (source.end === undefined ? i + 1 : source.end[i]!);
  let size = 0;
  const push = (byte: number, s: number, e: number) => {
    bytes[size] = byte;
    start[size] = s;
    end[size++] = e;
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (percent && c === 37) {
      const hi = hexAt(text, i + 1), lo = hexAt(text, i + 2);
      if ((hi | lo) >= 0) {
        push((hi << 4) | lo, from(i), to(i + 2));
        i += 3;
        continue;
      }
    }
    let cp = c;
    let used = 1;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) (cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00)), (used = 2);
    }
    if (used === 1 && cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
    const s = from(i), e = to(i + used - 1);
    if (cp < 0x80) push(cp, s, e);
    else if (cp < 0x800) {
      push(0xc0 | (cp >> 6), s, e);
      push(0x80 | (cp & 63), s, e);
    } else if (cp < 0x10000) {
      push(0xe0 | (cp >> 12), s, e);
      push(0x80 | ((cp >> 6) & 63), s, e);
      push(0x80 | (cp & 63), s, e);
    } else {
      push(0xf0 | (cp >> 18), s, e);
      push(0x80 | ((cp >> 12) & 63), s, e);
      push(0x80 | ((cp >> 6) & 63), s, e);
      push(0x80 | (cp & 63), s, e);
    }
    i += used;
  }
  return { bytes: bytes.subarray(0, size), start: start.subarray(0, size), end: end.subarray(0, size) };
}

/**
 * ASCII text as its bytes, in a plain Uint8Array view (not a Buffer): every stream the scanners read is
 * then of one class, which keeps their element loads monomorphic (a mixed site is ~20× slower).
 */
function plainBytes(text: string): Uint8Array {
  if (text.length > ASCII_SCRATCH_BYTES) {
    const buffer = Buffer.from(text, "latin1");
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
  }
  // Short text (every field of a request, most answers) is written into one reused buffer: the scan
  // is synchronous and reads one text's streams at a time, and its hits are kept as numbers, so no
  // later scan needs these bytes. A fresh Buffer per string cost more than scanning a short one.
  asciiScratchWriter.latin1Write(text, 0, text.length);
  return asciiScratch.subarray(0, text.length);
}
/** Non-ASCII text as its UTF-8 bytes, short text in the same reused buffer as plainBytes (the first stream only). */
function scratchUtf8Bytes(text: string): Uint8Array {
  if (text.length * 3 > ASCII_SCRATCH_BYTES) return utf8Bytes(text);
  return asciiScratch.subarray(0, asciiScratchWriter.utf8Write(text, 0, ASCII_SCRATCH_BYTES));
}
const ASCII_SCRATCH_BYTES = 16 * 1024;
const asciiScratch = new Uint8Array(ASCII_SCRATCH_BYTES);
/** Node's own encoders of a Buffer (what `write` dispatches to after looking the encoding up). */
type EncodingWriter = Buffer & { latin1Write(text: string, offset: number, length: number): number; utf8Write(text: string, offset: number, length: number): number };
const asciiScratchWriter = Buffer.from(asciiScratch.buffer, asciiScratch.byteOffset, asciiScratch.length) as EncodingWriter;
/** The text as it is, when ASCII: byte i is character i, so no map back is needed. */
const ASCII_LOCATED = (): Stream => ({ bytes: new Uint8Array(0) });

/** Layers of escapes a reader may undo: JSON in a JSON string (an NDJSON line, a logged body) is two. */
const ESCAPE_LAYERS = 3;

/**
 * The byte streams a reader might read: the text as it is and with up to ESCAPE_LAYERS layers of JSON
 * escapes decoded, each also with its %XX decoded.
 */
function streamsOf(text: string, reach: number): ScannedStream[] {
  const ascii = Buffer.byteLength(text, "utf8") === text.length;
  // The text as it is: its bytes natively; where each came from is worked out only if a form is found.
  const streams: ScannedStream[] = [ascii ? { bytes: plainBytes(text), located: ASCII_LOCATED } : { bytes: scratchUtf8Bytes(text), located: () => byteStream({ text }, false) }];
  // A window read through an escape or %XX lies within `reach` characters of it: only those regions
  // of the text are decoded (an escape every few characters makes that the whole text).
  for (const [from, to] of escapeRegions(text, reach)) {
    const region = from === 0 && to === text.length ? text : text.slice(from, to);
    // The layers as plain strings first (native replace); their maps are built only for a stream with a hit.
    const layers = [region];
    while (layers.length <= ESCAPE_LAYERS && layers[layers.length - 1]!.includes("\\")) {
      const next = unescapeText(layers[layers.length - 1]!);
      if (next === layers[layers.length - 1]) break;
      layers.push(next);
    }
    const mappedLayer = (depth: number, quotes = true): Decoded => {
      let layer: Decoded = { text: region };
      for (let d = 0; d < depth; d++) layer = unescapeLayer(layer, quotes || d < depth - 1);
      return layer;
    };
    layers.forEach((layerText, depth) => {
      if (layerText.includes("%")) {
        const stream = byteStream(mappedLayer(depth), true);
        streams.push({ bytes: stream.bytes, located: () => shifted(stream, from) });
      }
      if (depth > 0) streams.push({ bytes: utf8Bytes(layerText), located: () => shifted(byteStream(mappedLayer(depth), false), from) });
      // Character references inside an escaped layer (an HTML fragment in a JSON string).
      if (depth > 0 && layerText.includes("&")) {
        const decoded = unentityLayer(mappedLayer(depth));
        if (decoded.text !== layerText) {
          for (const percent of decoded.text.includes("%") ? [false, true] : [false]) {
            const stream = byteStream(decoded, percent);
            streams.push({ bytes: stream.bytes, located: () => shifted(stream, from) });
          }
        }
      }
      // From the second layer on, `\"` may be a string's last backslash before its closing quote (an
      // NDJSON line's string ending in `\\`): read that way too.
      if (depth > 1 && layers[depth - 1]!.includes('\\"')) {
        streams.push({ bytes: utf8Bytes(unescapeText(layers[depth - 1]!, false)), located: () => shifted(byteStream(mappedLayer(depth, false), false), from) });
      }
    });
  }
  // Character references: the whole text decoded once (linear), when it has any.
  if (text.includes("&")) {
    const decoded = unentityLayer({ text });
    if (decoded.text !== text) {
      streams.push({ bytes: utf8Bytes(decoded.text), located: () => byteStream(decoded, false) });
      if (decoded.text.includes("%")) {
        const stream = byteStream(decoded, true);
        streams.push({ bytes: stream.bytes, located: () => stream });
      }
    }
  }
  return streams;
}

const ESCAPE = /\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))/g;
const ESCAPE_BUT_QUOTE = /\\(?:u([0-9a-fA-F]{4})|([\\/bfnrt]))/g;
const SIMPLE_ESCAPE_TEXT: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
/** unescapeLayer's text alone, by the same rule: the fast path when no map is needed. */
function unescapeText(text: string, quotes = true): string {
  return text.replace(quotes ? ESCAPE : ESCAPE_BUT_QUOTE, (_m, hex: string | undefined, simple: string | undefined) => (hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : SIMPLE_ESCAPE_TEXT[simple!]!));
}

/** The regions [from, to) within `reach` of a backslash or a percent sign, merged. */
function escapeRegions(text: string, reach: number): Array<[number, number]> {
  const regions: Array<[number, number]> = [];
  let at = 0;
  // Each search resumes where it left off: looking again from every `%` for a backslash that is not
  // there would scan the rest of the text each time (quadratic: 1 MB of `%` held the server 15 s).
  let slash = text.indexOf("\\");
  let percent = text.indexOf("%");
  for (;;) {
    if (slash >= 0 && slash < at) slash = text.indexOf("\\", at);
    if (percent >= 0 && percent < at) percent = text.indexOf("%", at);
    const next = slash < 0 ? percent : percent < 0 ? slash : Math.min(slash, percent);
    if (next < 0) break;
    const from = Math.max(0, next - reach);
    const to = Math.min(text.length, next + reach + 1);
    const last = regions[regions.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = to;
    else regions.push([from, to]);
    at = next + 1;
  }
  return regions;
}

function shifted(stream: Stream, by: number): Stream {
  if (by === 0) return stream;
  return { bytes: stream.bytes, start: stream.start!.map((i) => i + by), end: stream.end!.map((i) => i + by) };
}

/** A stream as scanned: its bytes now, the map back to the source on demand. */
interface ScannedStream {
  bytes: Uint8Array;
  located(): Stream;
}

function utf8Bytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, "utf8");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** Byte tables the scanners read through: as it is; hex digits to lower case; base64url's `-` and `_` to base64's `+` and `/`. */
const IDENTITY = Uint8Array.from({ length: 256 }, (_, c) => c);
const LOWER_ASCII = Uint8Array.from({ length: 256 }, (_, c) => (c >= 65 && c <= 90 ? c + 32 : c));
const lowerAscii = (latin1: string) => latin1.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
const LOWER_HEX = Uint8Array.from({ length: 256 }, (_, c) => (c >= 65 && c <= 70 ? c + 32 : c));
const BASE64_NORMAL = Uint8Array.from({ length: 256 }, (_, c) => (c === 45 ? 43 : c === 95 ? 47 : c));

/** A reusable buffer (the scan is synchronous), so that a wrapped base64 block allocates little per call. */
let scratchBuffer = new Uint8Array(1024);
function scratch(n: number): Uint8Array {
  if (scratchBuffer.length < n) scratchBuffer = new Uint8Array(Math.max(n, scratchBuffer.length * 2));
  return scratchBuffer;
}

/**
 * Every window of the set in units[from, to). Only every (L − 3)th gram is looked up (a window of L
 * holds exactly one of them); the rolling hash runs only around a gram that some form holds.
 */
function scan(units: Uint8Array, from: number, to: number, set: WindowSet, found: (start: number, end: number) => void, t: Uint8Array = IDENTITY): void {
  const L = set.length;
  if (to - from < L) return;
  if (L <= GRAM) return scanUnits(units, from, to, set, found, t);
  const stride = L - GRAM + 1;
  const grams = set.grams;
  for (let q = from; q + GRAM <= to; q += stride) {
    const g = gramBit(t[units[q]!]!, t[units[q + 1]!]!, t[units[q + 2]!]!, t[units[q + 3]!]!);
    if ((grams[g >>> 5]! & (1 << (g & 31))) === 0) continue;
    scanUnits(units, Math.max(from, q - (L - GRAM)), Math.min(to, q + L), set, found, t);
  }
}

/** Positions [from, to) of `units` whose window of set.length hashes into the set and equals a form. */
function scanUnits(units: Uint8Array, from: number, to: number, set: WindowSet, found: (start: number, end: number) => void, t: Uint8Array): void {
  const L = set.length;
  if (to - from < L) return;
  let h = 0;
  for (let i = from; i < from + L; i++) h = (Math.imul(h, HASH_MULTIPLIER) + t[units[i]!]!) | 0;
  for (let i = from; ; i++) {
    const bit = bitOf(h);
    if ((set.bitmap[bit >>> 5]! & (1 << (bit & 31))) !== 0) {
      const candidates = set.table.get(h);
      if (candidates !== undefined) {
        for (const form of candidates) {
          let j = 0;
          while (j < L && t[units[i + j]!] === form.charCodeAt(j)) j++;
          if (j === L) {
            found(i, i + L);
            break;
          }
        }
      }
    }
    if (i + L >= to) return;
    h = (Math.imul(h - Math.imul(t[units[i]!]!, set.pow), HASH_MULTIPLIER) + t[units[i + L]!]!) | 0;
  }
}


/**
 * The redactor of these secrets' windows; with `whole`, of the whole secrets only (in the same forms):
 * what an agent's input is checked against, so that a denial never says that a guess is a piece of one.
 */
export function createRedactor(secrets: Iterable<string>, options: { whole?: boolean } = {}): Redactor {
  const values = [...new Set([...secrets].filter((s) => s.length > 0))];
  const merged = new Map<FormClass, Map<number, Set<string>>>([["raw", new Map()], ["hex", new Map()], ["base64", new Map()]]);
  for (const secret of values) {
    for (const [cls, byLength] of secretForms(secret, options.whole === true)) {
      for (const [length, forms] of byLength) {
        const target = merged.get(cls)!;
        let set = target.get(length);
        if (set === undefined) target.set(length, (set = new Set()));
        for (const form of forms) set.add(form);
      }
    }
  }
  const sets = (cls: FormClass) => [...merged.get(cls)!].map(([length, forms]) => windowSet(length, forms));
  const rawSets = sets("raw");
  const hexSets = sets("hex");
  const base64Sets = sets("base64");
  /** How far from a backslash or `%` a window read through it can reach: 12 bytes each of `%XX` with every character `\\uXXXX`-escaped is 360 characters. */
  const reach = Math.max(0, ...[...rawSets, ...hexSets, ...base64Sets].map((s) => s.length)) * 16;
  const shortest = Math.min(...[...rawSets, ...hexSets, ...base64Sets].map((s) => s.length));

  /** Source ranges [start, end) (flattened) of every form of a secret window in the text. */
  const find = (text: string): number[] => {
    const ranges: number[] = [];
    // One list of a stream's hits for the whole call, emptied per stream.
    let hits: number[] = [];
    const hit = (from: number, to: number) => hits.push(from, to);
    for (const stream of streamsOf(text, reach)) {
      const { bytes } = stream;
      const n = bytes.length;
      if (hits.length !== 0) hits = [];
      for (const set of rawSets) scan(bytes, 0, n, set, hit, LOWER_ASCII);
      for (const set of hexSets) scan(bytes, 0, n, set, hit, LOWER_HEX);
      if (base64Sets.length > 0) {
        // base64url read as base64; line breaks (a wrapped block) left out, each byte remembering its place.
        if (bytes.indexOf(10) < 0 && bytes.indexOf(13) < 0) {
          for (const set of base64Sets) scan(bytes, 0, n, set, hit, BASE64_NORMAL);
        } else {
          const compact = scratch(n);
          const origin = new Int32Array(n);
          let m = 0;
          for (let j = 0; j < n; j++) {
            const c = bytes[j]!;
            if (c === 13 || c === 10) continue;
            compact[m] = BASE64_NORMAL[c]!;
            origin[m++] = j;
          }
          for (const set of base64Sets) scan(compact, 0, m, set, (from, to) => hits.push(origin[from]!, origin[to - 1]! + 1), IDENTITY);
        }
      }
      if (hits.length === 0) continue;
      const { start, end } = stream.located();
      for (let j = 0; j < hits.length; j += 2) ranges.push(start === undefined ? hits[j]! : start[hits[j]!]!, end === undefined ? hits[j + 1]! : end[hits[j + 1]! - 1]!);
    }
    return ranges;
  };

  /** `known`: text the agent sent; a merged match lying inside one of those strings stays (Redactor#knowing). */
  const redactText = (value: string, known: Known | undefined): string => {
    // Text of fewer UTF-8 bytes than the shortest form cannot hold one: no decoding a reader may undo
    // (escapes, %XX, character references) makes more bytes than its source. A UTF-16 unit is at most 3
    // bytes (a pair is 4); text of at least `shortest` units has at least that many bytes.
    if (value.length * 3 < shortest || (value.length < shortest && Buffer.byteLength(value, "utf8") < shortest)) return value;
    const ranges = find(value);
    if (ranges.length === 0) {
      // Numeric text is also read as its digits alone: a point, sign or exponent between them is what a
      // reader drops (`8392017.46512345`, and a JSON number as JSON.stringify writes it). Judged whole.
      const digits = digitsOfNumber(value);
      return digits === undefined || redactText(digits, known) === digits ? value : REDACTED;
    }
    const order = Array.from({ length: ranges.length / 2 }, (_, i) => i).sort((a, b) => ranges[2 * a]! - ranges[2 * b]!);
    let out = "";
    let written = 0;
    let openStart = -1;
    let openEnd = -1;
    const close = () => {
      if (known !== undefined && isKnownPiece(value.slice(openStart, openEnd), known)) return;
      out += value.slice(written, openStart) + REDACTED;
      written = openEnd;
    };
    for (const r of order) {
      const s = ranges[2 * r]!, e = ranges[2 * r + 1]!;
      // Touching matches merge into one `[REDACTED]`; for an answer to an agent that sent pieces they are
      // judged apart: its piece next to an injected secret (`"${a}${secrets.K}"`) must stay as it sent it,
      // or a right guess would vanish into the secret's redaction and a wrong one would not.
      if (openStart >= 0 && (known === undefined ? s <= openEnd : s < openEnd)) {
        openEnd = Math.max(openEnd, e);
        continue;
      }
      if (openStart >= 0) close();
      openStart = s;
      openEnd = e;
    }
    close();
    return out + value.slice(written);
  };
  const text = (value: string): string => redactText(value, undefined);

  const define = (target: Record<string, unknown>, key: string, item: unknown) =>
    Object.defineProperty(target, key, { value: item, enumerable: true, writable: true, configurable: true });
  // One walk, copy on write: a value with nothing to redact (the common case) comes back as it is,
  // unallocated; each node is visited once, so the cost is linear in the size of the value.
  const json = (value: unknown, depth = 0, known?: Known): unknown => {
    if (typeof value === "string") return redactText(value, known);
    // A number is read as its text, as JSON.stringify writes it (an all-digit secret echoed as a JSON
    // number is one): one that holds a form becomes the string [REDACTED].
    if (typeof value === "number") {
      const written = String(value);
      return redactText(written, known) === written ? value : REDACTED;
    }
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH) return TOO_DEEP;
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const redacted = json(item, depth + 1, known);
        if (out === undefined && redacted !== item) out = value.slice(0, i);
        out?.push(redacted);
      }
      return out ?? value;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    // A value that JSON.parse could not have made (a class instance, say) is always copied.
    let out: Record<string, unknown> | undefined = proto !== Object.prototype && proto !== null ? {} : undefined;
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = (value as Record<string, unknown>)[key];
      const redactedKey = redactText(key, known);
      const redacted = json(item, depth + 1, known);
      if (out === undefined && (redactedKey !== key || redacted !== item)) {
        out = {};
        for (let j = 0; j < i; j++) define(out, keys[j]!, (value as Record<string, unknown>)[keys[j]!]);
      }
      if (out !== undefined) define(out, redactedKey, redacted);
    }
    return out ?? value;
  };

  // A string JSON.parse makes is the raw text between its quotes with escapes decoded: the decoded
  // stream of the whole text holds it, unless an escaped backslash makes a new escape in the string.
  // A number is read as JSON.stringify writes it again, which may differ from its spelling here
  // (`8392017.46512345e8` is written 839201746512345): a fraction or an exponent makes the walk run.
  const mayHoldSecret = (jsonText: string) =>
    values.length > 0 && (jsonText.includes("\\\\") || /\\u005c/i.test(jsonText) || RESPELLED_NUMBER.test(jsonText) || find(jsonText).length > 0);

  if (values.length === 0) {
    const none: Redactor = {
      text: (v) => v,
      json: (v) => v,
      mayHoldSecret: () => false,
      knowing: () => none,
      get whole() {
        return none;
      },
    };
    return none;
  }
  // A match that holds a whole secret is redacted even where the agent sent it: no answer carries one.
  let wholeSecrets: Redactor | undefined;
  const whole = (): Redactor => (options.whole === true ? self : (wholeSecrets ??= createRedactor(values, { whole: true })));
  const isKnownPiece = (match: string, known: Known) => {
    const cached = known.judged.get(match);
    if (cached !== undefined) return cached;
    const piece = isKnown(match, known.strings) && whole().text(match) === match;
    known.judged.set(match, piece);
    return piece;
  };
  const knowing = (strings: readonly string[]): Redactor => {
    const known: Known = { strings, judged: new Map() };
    return {
      text: (value) => redactText(value, known),
      json: (value) => json(value, 0, known),
      mayHoldSecret,
      get whole() {
        return whole();
      },
      knowing: (more) => knowing([...strings, ...more]),
    };
  };
  const self: Redactor = {
    text,
    json: (value) => json(value),
    mayHoldSecret,
    get whole() {
      return whole();
    },
    knowing,
  };
  return self;
}

/** A number as JSON or a person writes it; linear to test (the fraction needs its point, so the digits split one way only). */
const NUMERIC_TEXT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/**
 * The digits of a number written as text (`8392017.46512345`, `-4.9e-7`), its sign, point and exponent
 * dropped, as a reader who drops them has them; undefined for text that is no number or is its digits.
 */
export function digitsOfNumber(text: string): string | undefined {
  if (!NUMERIC_TEXT.test(text)) return undefined;
  const digits = text.replace(/[eE].*$/, "").replace(/[-+.]/g, "");
  return digits === text ? undefined : digits;
}

/** What an agent sent (Redactor#knowing), and each distinct match judged against it so far. */
interface Known {
  readonly strings: readonly string[];
  /** match text → whether it is a piece the agent sent: a piece repeated through a body is judged once. */
  readonly judged: Map<string, boolean>;
}

/** Whether `match` is text inside one of the strings the agent sent. */
const isKnown = (match: string, known: readonly string[]): boolean => known.some((k) => k.length >= match.length && k.includes(match));

/**
 * Every string and key (and number, as its text) of a value the agent sent (its input; bounded by the body limit). All of them: a
 * cap would leave a guess placed after it out of what the agent is known to have sent, an oracle again.
 */
export function stringsOf(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "string") out.push(v);
    // Numbers as their text, as redaction reads them (Redactor#json): a piece sent as one is the agent's too.
    else if (typeof v === "number") out.push(String(v));
    else if (v !== null && typeof v === "object" && depth < MAX_DEPTH) {
      if (Array.isArray(v)) for (const item of v) walk(item, depth + 1);
      else for (const key of Object.keys(v)) {
        out.push(key);
        walk((v as Record<string, unknown>)[key], depth + 1);
      }
    }
  };
  walk(value, 0);
  return out;
}
