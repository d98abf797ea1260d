// A leak oracle independent of the redactor: brute force over every 12-byte window of a secret and every
// reading a reader would try (JSON-parse, numbers as digits, unescape, HTML character references,
// percent-decode, lower-case hex, base64 at each offset, the text encoded back as UTF-16LE or as bytes).

const WINDOW = 12;

/** Every string a reader could pull out of the text: itself, JSON (or NDJSON line) strings, each unescaped. */
function readings(text: string): string[] {
  const found = [text];
  const collect = (value: unknown, depth: number): void => {
    if (depth > 200) return;
    // Numeric text also as its digits alone (a reader drops the point, sign and exponent).
    if (typeof value === "string") found.push(value, ...(/^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(value) ? [value.replace(/[eE].*$/, "").replace(/[-+.]/g, "")] : []));
    // A number is read as its digits (an all-digit key echoed as a JSON number).
    else if (typeof value === "number") found.push(String(value), String(value).replace(/e.*$/, "").replace(/[-.]/g, ""));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        found.push(k);
        collect(v, depth + 1);
      }
    }
  };
  for (const candidate of [text, ...text.split(/\r?\n/)]) {
    try {
      collect(JSON.parse(candidate), 0);
    } catch {
      // not JSON: read as text only
    }
  }
  const unescaped = found.map((s) =>
    s.replace(/\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])/g, (_m, hex: string | undefined, c: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : ({ '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" } as Record<string, string>)[c!]!,
    ),
  );
  // HTML/XML character references, as a browser or a model reads them.
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", lowbar: "_", colon: ":", sol: "/", plus: "+", equals: "=", auml: "ä", ouml: "ö", uuml: "ü", Auml: "Ä", Ouml: "Ö", Uuml: "Ü", szlig: "ß", eacute: "é" };
  const entities = [...found, ...unescaped].map((s) =>
    s.replace(/&#[xX]([0-9a-fA-F]+);?|&#([0-9]+);?|&([a-zA-Z]+);/g, (m, hex: string | undefined, dec: string | undefined, name: string | undefined) =>
      hex !== undefined ? String.fromCodePoint(parseInt(hex, 16)) : dec !== undefined ? String.fromCodePoint(parseInt(dec, 10)) : (named[name!] ?? m),
    ),
  );
  // A text a client turns back into bytes another way than it was decoded (a charset label that lied):
  // the text's UTF-16LE bytes, and its characters as bytes read as UTF-8.
  const recoded = [...found].flatMap((s) => [Buffer.from(s, "utf16le").toString("latin1"), Buffer.from(s, "latin1").toString("utf8")]);
  return [...new Set([...found, ...unescaped, ...entities, ...recoded])];
}

/** A description of the first window of the secret a reader recovers from the text, or undefined. */
export function findLeak(text: string, secret: string): string | undefined {
  const bytes = Buffer.from(secret, "utf8");
  const k = Math.min(WINDOW, bytes.length);
  const windows: string[] = [];
  for (let i = 0; i + k <= bytes.length; i++) windows.push(bytes.subarray(i, i + k).toString("latin1"));
  const hexWindows = windows.map((w) => Buffer.from(w, "latin1").toString("hex"));
  for (const reading of readings(text)) {
    const asBytes = Buffer.from(reading, "utf8").toString("latin1");
    const views = [asBytes, asBytes.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))];
    for (const view of views) {
      for (const candidate of [view, view.replace(/\+/g, " ")]) {
        const w = windows.find((x) => candidate.includes(x));
        if (w !== undefined) return `raw window ${JSON.stringify(w)} in ${JSON.stringify(view.slice(0, 200))}`;
      }
      const lower = view.toLowerCase();
      const h = hexWindows.find((x) => lower.includes(x));
      if (h !== undefined) return `hex window ${h}`;
      const base64Text = view.replace(/[\r\n]/g, "").replace(/-/g, "+").replace(/_/g, "/");
      for (const run of base64Text.match(/[A-Za-z0-9+/]{4,}/g) ?? []) {
        for (let offset = 0; offset < 4; offset++) {
          const part = run.slice(offset);
          const decoded = Buffer.from(part.slice(0, part.length - (part.length % 4)), "base64").toString("latin1");
          const b = windows.find((x) => decoded.includes(x));
          if (b !== undefined) return `base64 window ${JSON.stringify(b)} at offset ${offset} of ${run.slice(0, 80)}`;
        }
      }
    }
  }
  return undefined;
}
