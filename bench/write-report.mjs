// `npm run bench` (last step): bench/results/report.md from the run's results — the pinned benchmark
// (pinned.json), workers (workers.json), the HTTPS tunnel (https.json, written by bench/https-bench.mjs,
// when present), the Node-generator benchmark (execute.json) and the in-process figures (micro.json) —
// with each target of issue 18 met or not, and the machine's state, so that runs can be compared.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const results = join(import.meta.dirname, "results");
const read = (name) => (existsSync(join(results, name)) ? JSON.parse(readFileSync(join(results, name), "utf8")) : undefined);
const pinned = read("pinned.json");
if (pinned === undefined) throw new Error("bench/results/pinned.json is missing: run node bench/pinned-bench.mjs first");
const workers = read("workers.json");
const https = read("https.json");
const execute = read("execute.json");
const micro = read("micro.json");
const f = (n, d = 0) => (n === undefined ? "—" : n.toFixed(d));
const met = (ok) => (ok ? "**met**" : "**not met**");

const names = ["direct", "nginx", "express_proxy", "floor_proxy", "keyrunner"].filter((n) => pinned.results[pinned.concurrencies[0]][n] !== undefined);
const label = { direct: "direct", nginx: "nginx (header injected)", express_proxy: "express + http-proxy-middleware", floor_proxy: "floor proxy (node:http + undici)", keyrunner: "KeyRunner" };
const at = (c) => pinned.results[c];
const top = pinned.concurrencies.includes(64) ? 64 : pinned.concurrencies.at(-1);
const one = pinned.concurrencies.includes(1) ? 1 : pinned.concurrencies[0];
const r64 = at(top).ratios;
const cold = pinned.coldStartMs.sandboxedFlagsGiven;
const rows = [];
for (const c of pinned.concurrencies) {
  for (const n of names) {
    const m = at(c)[n];
    rows.push(`| ${c} | ${label[n]} | ${f(m.rps)} | ${f(m.p50, 2)} / ${f(m.p90, 2)} / ${f(m.p99, 2)} | ${f(m.cpuMicrosPerRequest)} (${f(m.userMicrosPerRequest)} + ${f(m.systemMicrosPerRequest)}) |`);
  }
}
const ratioRows = pinned.concurrencies.map((c) => {
  const r = at(c).ratios;
  return `| ${c} | ${f(r.keyrunnerOverFloor, 2)}× | ${f(r.keyrunnerOverExpress, 2)}× | ${f(r.keyrunnerOverNginx, 2)}× | ${f(r.keyrunnerOverDirect, 2)}× | ${f(r.keyrunnerCpuOverFloorCpu, 2)}× (${f(r.keyrunnerCpuAboveFloorMicros)} µs above) | ${f(r.addedMedianLatencyMs, 3)} |`;
});
const targetRows = [
  [`KeyRunner ≥ 0.80× the floor proxy (c=${top})`, `${f(r64.keyrunnerOverFloor, 2)}×`, r64.keyrunnerOverFloor >= 0.8],
  [`KeyRunner ≥ 3× express (c=${top})`, `${f(r64.keyrunnerOverExpress, 2)}×`, r64.keyrunnerOverExpress >= 3],
  [`KeyRunner CPU per request ≤ 1.4× the floor's (c=${top})`, `${f(at(top).keyrunner.cpuMicrosPerRequest)} / ${f(at(top).floor_proxy.cpuMicrosPerRequest)} µs = ${f(r64.keyrunnerCpuOverFloorCpu, 2)}×`, r64.keyrunnerCpuOverFloorCpu <= 1.4],
  [`added p50 latency ≤ 0.6 ms over direct (c=${one})`, `${f(at(one).ratios.addedMedianLatencyMs, 3)} ms`, at(one).ratios.addedMedianLatencyMs <= 0.6],
  [
    "cold start to ready ≤ 150 ms, sandbox flags given",
    `${f(cold)} ms (by self-relaunch ${f(pinned.coldStartMs.sandboxedSelfRelaunch)} ms; Node alone with the same flags ${f(pinned.coldStartMs.nodeAloneSameFlags)} ms)`,
    cold <= 150,
  ],
];
const layout = pinned.layout.pinned ? `wrk on core ${pinned.layout.generatorCore}, every server (the upstream included) on core ${pinned.layout.serverCore} (taskset)` : `NOT pinned (${pinned.layout.reason}): generator and servers share the cores`;

const md = [
  `# KeyRunner benchmark report (${pinned.date.slice(0, 16).replace("T", " ")} UTC)`,
  "",
  "## Machine state",
  "",
  `${pinned.machine.cpus} × ${pinned.machine.cpuModel}, Linux ${pinned.machine.kernel}, Node ${pinned.machine.node}, ${pinned.nginx}. ${layout}. ` +
    `Load average at the end: ${pinned.machine.loadAverageAtEnd.map((x) => x.toFixed(2)).join(", ")}. ` +
    `**Direct at c=${top}: ${f(at(top).direct.rps)} req/s** — the figure to compare runs by (a machine that gives the upstream fewer requests per second gives every proxy fewer).`,
  "",
  `Generator: ${pinned.generator}; medians of ${pinned.rounds} rounds, each round measuring every target back to back. KeyRunner: ${pinned.keyrunnerSetup}. CPU per request: user + system time of the serving process and its children (/proc) over the measurement, divided by the requests wrk completed. Audit records written durably: ${pinned.auditRecords}.`,
  "",
  "## Targets (issue 18), this run",
  "",
  "| target | measured | verdict |",
  "| --- | --- | --- |",
  ...targetRows.map(([t, m, ok]) => `| ${t} | ${m} | ${met(ok)} |`),
  "",
  "## Pinned: throughput, latency, CPU",
  "",
  "| c | target | req/s | p50 / p90 / p99 ms | CPU µs/req (user + system) |",
  "| ---: | --- | ---: | ---: | ---: |",
  ...rows,
  "",
  "| c | KeyRunner ÷ floor | ÷ express | ÷ nginx | ÷ direct | CPU ÷ floor's | added p50 ms |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...ratioRows,
  "",
  "## `serve --workers N` (wrk unpinned, both cores)",
  "",
  ...(workers === undefined
    ? ["Not run (bench/results/workers.json is missing: `node bench/workers-bench.mjs`)."]
    : [
        `${workers.generator}; medians of ${workers.rounds} rounds; state on Redis (${workers.redis}); each worker its own audit file.`,
        "",
        "| workers | req/s | p50 / p99 ms | CPU µs/req (all processes) | audit records |",
        "| ---: | ---: | ---: | ---: | ---: |",
        ...workers.results.map((w) => `| ${w.workers} | ${f(w.rps)} | ${f(w.p50, 2)} / ${f(w.p99, 2)} | ${f(w.cpuMicrosPerRequest)} | ${w.auditRecords} |`),
        "",
        `2 workers ÷ 1: ${f(workers.scaling, 2)}×. ${workers.note}`,
      ]),
  "",
  "## HTTPS interception (CONNECT tunnel)",
  "",
  ...(https === undefined
    ? ["Not run (bench/results/https.json is missing: it is written by `node bench/https-bench.mjs`)."]
    : ["| figure | value |", "| --- | --- |", ...flatten(https).map(([k, v]) => `| ${k} | ${v} |`)]),
  "",
  "## Second table: the Node load generator (not pinned)",
  "",
  ...(execute === undefined
    ? ["Not run (bench/results/execute.json)."]
    : [
        "`bench/execute-bench.mjs`: an undici load generator sharing the two cores with the servers, so the generator saturates first and the ratios flatter the slower servers. Labelled as such; the pinned table above is the one the targets are judged on.",
        "",
        "| c | direct req/s | KeyRunner req/s | floor req/s | express req/s | KeyRunner ÷ express | CPU µs/req KeyRunner / floor |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ...Object.entries(execute.results).map(([c, r]) => `| ${c} | ${f(r.direct.rps)} | ${f(r.keyrunner.rps)} | ${f(r.floor_proxy.rps)} | ${f(r.express_proxy.rps)} | ${f(r.ratios.keyrunnerOverExpressThroughput, 2)}× | ${f(r.keyrunner.cpuMicrosPerRequest)} / ${f(r.floor_proxy.cpuMicrosPerRequest)} |`),
      ]),
  "",
  "## In-process figures",
  "",
  ...(micro === undefined
    ? ["Not run (bench/results/micro.json)."]
    : [
        `generated \`decide()\` ${f(micro.decision.keyrunnerDecideNs, 1)} ns; validate + decide ${f(micro.decision.keyrunnerValidateAndDecideNs, 1)} ns; cedar-wasm ${f(micro.decision.cedarWasmPreparsedNs)} ns. ` +
          `Audit: ${f(micro.auditDurability.perRequestDurableWrite.recordsPerSecond)} records/s one durable write each, ${f(micro.auditDurability.groupCommit.recordsPerSecond)} with group commit. ` +
          `Build: ${micro.build.map((b) => `${b.tools} tools ${(b.buildMs / 1000).toFixed(1)} s, ${b.bundleKiB} KiB`).join("; ")}. Details: bench/results/micro.md.`,
      ]),
  "",
].join("\n");
writeFileSync(join(results, "report.md"), md);
console.log(md);

function flatten(value, prefix = "") {
  if (value === null || typeof value !== "object") return [[prefix, typeof value === "number" ? f(value, Number.isInteger(value) ? 0 : 2) : String(value)]];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === "" ? k : `${prefix}.${k}`));
}
