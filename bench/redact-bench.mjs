// `npm run bench` (part 4): the redactor alone, in one process, on typical JSON bodies of 1–100 KB —
// the current one (every 12-byte window of a secret in every form, issue 13) against the one before
// it (bench/redact-before.mjs) — as the upstream read path uses them: the prefilter on the JSON text,
// then the walk only when it may hold a secret. Writes bench/results/redact.{json,md}.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { createRedactor } from "../lib/runtime-template/core/redact.js";
import { createRedactor as createRedactorBefore } from "./redact-before.mjs";

const root = join(import.meta.dirname, "..");
const SECRETS = ["sk_live_51HqLyjWDarjtT1zdp7dcQ9xTbZ", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "hdr_secret_Zq81mK2pLx"];

/** A list of API objects, as a payments or issue-tracker API answers: ids, hex and base64-ish tokens, URLs, text. */
function body(targetBytes, withSecret) {
  const items = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const item = {
      id: `re_${(i * 2654435761 >>> 0).toString(36)}${i}`,
      object: "refund",
      amount: (i * 397) % 90000,
      currency: "usd",
      created: 1_700_000_000 + i * 61,
      status: i % 7 === 0 ? "pending" : "succeeded",
      sha: (BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(16, "0").repeat(2).slice(0, 40),
      uuid: `${(i * 7919).toString(16).padStart(8, "0")}-1234-4abc-8def-${(i * 104729).toString(16).padStart(12, "0")}`,
      receipt_url: `https://pay.example.com/receipts/acct_1Hq${i}/rcpt_${i}?s=${Buffer.from(`receipt-${i}`).toString("base64url")}`,
      description: `Refund for order #${1000 + i} — customer asked (café, ${i % 3 === 0 ? "line\nbreak" : "no break"})`,
      metadata: { order_id: `ord_${i}`, note: "" },
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  if (withSecret) items[Math.floor(items.length / 2)].metadata.note = `key ${Buffer.from(`x${SECRETS[0]}`).toString("base64")}`;
  return JSON.stringify({ object: "list", has_more: false, data: items });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Microseconds per call of `redact(text, parsed)`, median of 7 timed rounds after a warm-up. */
function timed(redactor, text, parsed) {
  const rounds = Math.max(20, Math.round(2_000_000 / text.length));
  let sink = 0;
  const once = () => {
    const value = redactor.mayHoldSecret(text) ? redactor.json(parsed) : parsed;
    if (value !== parsed) sink++;
  };
  for (let i = 0; i < rounds; i++) once();
  const us = median(
    Array.from({ length: 7 }, () => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) once();
      return Number(process.hrtime.bigint() - t) / rounds / 1000;
    }),
  );
  return { us, sink };
}

const now = createRedactor(SECRETS);
const before = createRedactorBefore(SECRETS);
const rows = [];
for (const kb of [1, 10, 100]) {
  for (const withSecret of [false, true]) {
    const text = body(kb * 1024, withSecret);
    const parsed = JSON.parse(text);
    const parseUs = median(Array.from({ length: 7 }, () => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) JSON.parse(text);
      return Number(process.hrtime.bigint() - t) / 20 / 1000;
    }));
    const after = timed(now, text, parsed);
    const old = timed(before, text, parsed);
    if (withSecret && after.sink === 0) throw new Error("the benchmark's secret was not found");
    rows.push({ kib: Math.round(text.length / 1024), withSecret, beforeUs: old.us, afterUs: after.us, ratio: after.us / old.us, jsonParseUs: parseUs, mbPerSecond: text.length / after.us });
  }
}

const report = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, secrets: SECRETS.length, rows };
writeFileSync(join(root, "bench", "results", "redact.json"), `${JSON.stringify(report, null, 2)}\n`);
const md = [
  `# Redactor micro-benchmark (${new Date().toISOString().slice(0, 10)})`,
  "",
  `Machine: ${report.cpus} × ${report.cpu}, Node ${report.node}. ${SECRETS.length} secrets. Per body: the prefilter on the JSON text, then the walk of the parsed value when the prefilter says it may hold a secret (as \`core/upstream-body.ts\` does); JSON.parse itself shown for scale.`,
  "",
  "| body | secret inside | before (µs) | now (µs) | now / before | now, MB/s | JSON.parse (µs) |",
  "| ---: | :---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((r) => `| ${r.kib} KiB | ${r.withSecret ? "yes" : "no"} | ${r.beforeUs.toFixed(1)} | ${r.afterUs.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${r.mbPerSecond.toFixed(0)} | ${r.jsonParseUs.toFixed(1)} |`),
  "",
  "\"Before\" finds only whole-secret forms (bench/redact-before.mjs, the redactor of 74909ff); \"now\" finds every 12-byte window of each secret in each form of docs/runtime.md#redaction.",
  "",
].join("\n");
writeFileSync(join(root, "bench", "results", "redact.md"), md);
console.log(md);
