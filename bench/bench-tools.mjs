// The pinned benchmark's outside programs: wrk, nginx and taskset — found, installed with apt where
// missing (when this process may), and the CPU layout: the load generator on one core, every server on
// another, or a printed note where that cannot be done.
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";

const has = (program) => spawnSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).status === 0;

/** Installs the Debian packages of missing programs (as root, with apt-get); returns what is still missing. */
export function ensurePrograms(wanted = { wrk: "wrk", nginx: "nginx-light", taskset: "util-linux" }) {
  const missing = Object.keys(wanted).filter((p) => !has(p));
  if (missing.length > 0 && process.env.KR_BENCH_NO_INSTALL !== "1" && process.getuid?.() === 0 && has("apt-get")) {
    console.error(`bench: installing ${missing.map((p) => wanted[p]).join(", ")} with apt-get`);
    spawnSync("sh", ["-c", `(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.map((p) => wanted[p]).join(" ")}) >/dev/null 2>&1`], { stdio: "inherit" });
  }
  const still = Object.keys(wanted).filter((p) => !has(p));
  for (const p of still) console.error(`bench: ${p} is missing (apt-get install ${wanted[p]}); ${p === "taskset" ? "nothing is pinned" : p === "nginx" ? "the nginx target is left out" : "the pinned benchmark cannot run"}`);
  return still;
}

/**
 * Where the load generator and the servers run: `taskset -c` prefixes, or none (with the reason) when
 * pinning is off (KR_BENCH_NO_PIN=1), taskset is missing, or the machine has one core.
 */
export function cpuLayout() {
  const cores = cpus().length;
  const reason = process.env.KR_BENCH_NO_PIN === "1" ? "KR_BENCH_NO_PIN=1" : !has("taskset") ? "taskset is missing" : cores < 2 ? `${cores} core` : undefined;
  if (reason !== undefined) {
    console.error(`bench: not pinned (${reason}): the load generator and the servers share the cores, so ratios flatter the slower servers`);
    return { pinned: false, reason, cores, generator: [], server: [] };
  }
  const generatorCore = Number(process.env.KR_BENCH_GENERATOR_CORE ?? 0);
  const serverCore = Number(process.env.KR_BENCH_SERVER_CORE ?? 1);
  return { pinned: true, cores, generatorCore, serverCore, generator: ["taskset", "-c", String(generatorCore)], server: ["taskset", "-c", String(serverCore)] };
}
