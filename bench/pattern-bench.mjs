// `npm run bench:patterns`: the cost of one pattern test, the generated DFA (contract/dfa-match.ts)
// against the backtracking RegExp it replaced, on typical values and on hostile ones. Writes
// bench/results/patterns.json. Run after `npm run build:ts`.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { checkPattern } from "../lib/compiler/phases/3-resolve/regex-pattern.js";
import { DfaMatcher } from "../lib/runtime-template/contract/dfa-match.js";

const root = join(import.meta.dirname, "..");
const cases = [
  { pattern: "^acct_[a-z0-9_]{2,24}$", value: "acct_customer_4711" },
  { pattern: "(sk_live_|ghp_|AKIA)", value: "Refund for order 4711, customer called twice about it." },
  { pattern: "(sk_live_|ghp_|AKIA)", value: "x".repeat(1024), label: "1 KiB" },
  { pattern: "(sk_live_|ghp_|AKIA)", value: "x".repeat(1024 * 1024), label: "1 MiB" },
  { pattern: "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", value: "bob.smith@acme.example" },
  // Hostile: the RegExp is timed on 24 characters only (each extra character doubles its time).
  { pattern: "^(a|aa)+$", value: "a".repeat(24) + "!", label: "25 chars, hostile" },
  { pattern: "^(a|aa)+$", value: "a".repeat(1024 * 1024) + "!", label: "1 MiB, hostile", dfaOnly: true },
];

function nsPerTest(test, value) {
  let runs = 0;
  const started = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 200_000_000n || runs < 3) {
    test(value);
    runs++;
    elapsed = process.hrtime.bigint() - started;
  }
  return Number(elapsed) / runs;
}

const rows = [];
for (const { pattern, value, label, dfaOnly } of cases) {
  const check = checkPattern(pattern);
  if (!check.ok) throw new Error(check.message);
  const dfa = new DfaMatcher(check.pattern.matcher);
  const regex = new RegExp(pattern, "u");
  if (!dfaOnly && dfa.test(value) !== regex.test(value)) throw new Error(`DFA and RegExp disagree on ${pattern}`);
  rows.push({
    pattern,
    value: label ?? JSON.stringify(value),
    states: check.pattern.matcher.next.length,
    dfaNs: Math.round(nsPerTest((v) => dfa.test(v), value)),
    regExpNs: dfaOnly ? null : Math.round(nsPerTest((v) => regex.test(v), value)),
  });
}
const result = { benchmark: "pattern test: DFA vs RegExp", node: process.version, cpus: cpus().length, rows };
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "patterns.json"), JSON.stringify(result, null, 2) + "\n");
for (const r of rows) {
  console.log(`${r.pattern.padEnd(40)} ${r.value.slice(0, 30).padEnd(32)} ${String(r.states).padStart(4)} states  dfa ${r.dfaNs} ns  regexp ${r.regExpNs ?? "(minutes)"} ns`);
}
