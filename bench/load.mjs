// A load generator in its own process: N requests at concurrency C over keep-alive connections;
// prints JSON with throughput and latency percentiles.
import { Pool } from "undici";

const [url, path, concurrency, total, bodyText, headersJson] = process.argv.slice(2);
const C = Number(concurrency);
const N = Number(total);
const origin = new URL(url).origin;
const pool = new Pool(origin, { connections: C, pipelining: 1 });
const headers = { "content-type": "application/json", ...JSON.parse(headersJson) };
const latencies = new Float64Array(N);
let next = 0;
let errors = 0;
let statuses = {};

async function worker() {
  while (next < N) {
    const i = next++;
    const t = process.hrtime.bigint();
    const { statusCode, body } = await pool.request({ path, method: "POST", headers, body: bodyText });
    await body.text();
    latencies[i] = Number(process.hrtime.bigint() - t) / 1e6;
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode !== 200) errors++;
  }
}

// Warm-up, not measured.
next = 0;
await Promise.all(Array.from({ length: C }, async () => {
  for (let i = 0; i < 20; i++) {
    const { body } = await pool.request({ path, method: "POST", headers, body: bodyText });
    await body.text();
  }
}));
next = 0;
statuses = {};
const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: C }, worker));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
process.stdout.write(JSON.stringify({ requests: N, concurrency: C, seconds, rps: N / seconds, p50: pct(50), p90: pct(90), p99: pct(99), errors, statuses }) + "\n");
await pool.close();
