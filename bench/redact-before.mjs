// The redactor as it was before issue 13 (commit 74909ff), kept only as the baseline that
// bench/redact-bench.mjs measures the current redactor against. Not used by the runtime.
const REDACTED = "[REDACTED]";
const MAX_DEPTH = 64;
const TOO_DEEP = "[TOO DEEP]";
const MIN_FRAGMENT = 6;
function secretVariants(secret) {
  const bytes = Buffer.from(secret, "utf8");
  const variants = /* @__PURE__ */ new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  variants.add(bytes.toString("hex"));
  variants.add(bytes.toString("hex").toUpperCase());
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const start = Math.ceil(offset * 8 / 6);
    const end = Math.floor((offset + bytes.length) * 8 / 6);
    const fragment = encoded.slice(start, end);
    variants.add(fragment);
    variants.add(fragment.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...variants].filter((v) => v.length >= MIN_FRAGMENT || v === secret);
}
function createRedactor(secrets) {
  const variants = [...new Set([...secrets].filter((s) => s.length > 0).flatMap(secretVariants))].sort((a, b) => b.length - a.length);
  const pattern = variants.length === 0 ? void 0 : new RegExp(variants.map((v) => v.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")).join("|"), "g");
  const text = (value) => pattern === void 0 ? value : value.replace(pattern, REDACTED);
  const copy = (value, depth) => {
    const out = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, text(k), { value: json(v, depth + 1), enumerable: true, writable: true, configurable: true });
    return out;
  };
  const json = (value, depth = 0) => {
    if (typeof value === "string") return text(value);
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH) return TOO_DEEP;
    if (Array.isArray(value)) {
      let out;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        const redacted = json(item, depth + 1);
        if (out === void 0 && redacted !== item) out = value.slice(0, i);
        out?.push(redacted);
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return copy(value, depth);
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const item = value[key];
      if (text(key) !== key || json(item, depth + 1) !== item) return copy(value, depth);
    }
    return value;
  };
  const probe = pattern === void 0 ? void 0 : new RegExp(pattern.source);
  const mayHoldSecret = (jsonText) => probe !== void 0 && (jsonText.includes("\\") || probe.test(jsonText));
  return { text, json, mayHoldSecret };
}
export {
  MAX_DEPTH,
  REDACTED,
  TOO_DEEP,
  createRedactor,
  secretVariants
};
