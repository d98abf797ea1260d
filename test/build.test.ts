// `keyrunner build` as a user runs it: the three outputs, byte-identical rebuilds, `--check` in CI,
// and the bundle carrying no compiler dependency.

import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { keyrunner } from "./support/cli.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "keyrunner.js");

function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe("keyrunner build", () => {
  let project: string;
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "kr-build-"));
    cpSync(join(root, "tools"), join(project, "tools"), { recursive: true });
    cpSync(join(root, "policies"), join(project, "policies"), { recursive: true });
    cpSync(join(root, "context.yaml"), join(project, "context.yaml"));
  });

  it("writes the bundle, the generated code and the manifest; building twice gives identical bytes", async () => {
    const first = await keyrunner(["build", project, "--out", join(project, "out1")]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^wrote .*out1\/keyrunner\.mjs \(\d+ KiB\), .*out1\/generated \(20 files\), .*out1\/manifest\.json\n/);
    const second = await keyrunner(["build", project, "--out", join(project, "out2")]);
    expect(second.code).toBe(0);
    const a = tree(join(project, "out1"));
    const b = tree(join(project, "out2"));
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [path, bytes] of a) expect(bytes.equals(b.get(path)!), path).toBe(true);
    expect(statSync(join(project, "out1", "keyrunner.mjs")).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(project, "out1", "keyrunner.mjs"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("records config and bundle digests, egress origins and secret names in the manifest", async () => {
    await keyrunner(["build", project, "--out", join(project, "out3")]);
    const manifest = JSON.parse(readFileSync(join(project, "out3", "manifest.json"), "utf8"));
    const { createHash } = await import("node:crypto");
    expect(manifest.bundle_sha256).toBe(createHash("sha256").update(readFileSync(join(project, "out3", "keyrunner.mjs"))).digest("hex"));
    expect(manifest.config_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.secrets).toEqual(["GITHUB_TOKEN", "HUBSPOT_TOKEN", "PAGERDUTY_ROUTING_KEY", "POSTMARK_SERVER_TOKEN", "STRIPE_API_KEY"]);
    expect(manifest.egress_origins).toEqual(["https://api.github.com", "https://api.hubapi.com", "https://api.postmarkapp.com", "https://api.stripe.com", "https://events.pagerduty.com"]);
  });

  it("carries no compiler dependency in the bundle", async () => {
    await keyrunner(["build", project, "--out", join(project, "out4")]);
    const bundle = readFileSync(join(project, "out4", "keyrunner.mjs"), "utf8");
    for (const forbidden of ["node_modules/ts-morph", "node_modules/esbuild", "node_modules/yaml", "node_modules/refa", "ajv/dist/compile", "node_modules/typescript", "new Function("]) {
      expect(bundle, forbidden).not.toContain(forbidden);
    }
  });

  it("--check passes on fresh output and fails, naming the file, when committed code is stale", async () => {
    const out = join(project, "out5");
    await keyrunner(["build", project, "--out", out]);
    expect((await keyrunner(["build", project, "--out", out, "--check"])).code).toBe(0);
    const file = join(out, "generated", "tools", "refund_payment.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace("amount_cents <= 5000", "amount_cents <= 50000"));
    const stale = await keyrunner(["build", project, "--out", out, "--check"]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("  tools/refund_payment.ts\n");
  });

  it("--check also holds the bundle and the manifest to what the config builds: a torn or edited build is stale", async () => {
    const out = join(project, "out6");
    await keyrunner(["build", project, "--out", out]);
    const bundle = join(out, "keyrunner.mjs");
    const original = readFileSync(bundle);
    writeFileSync(bundle, Buffer.concat([original, Buffer.from("// edited\n")]));
    const edited = await keyrunner(["build", project, "--out", out, "--check"]);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain("  ../keyrunner.mjs\n");
    expect(edited.stderr).not.toContain("manifest.json");
    // A build killed between its renames: the new generated tree beside the old bundle and manifest.
    writeFileSync(bundle, original);
    const other = join(project, "out6-other");
    cpSync(project, join(project, "..", "changed-config"), { recursive: true, filter: (p) => !p.includes("out") });
    const changed = join(project, "..", "changed-config");
    const tool = join(changed, "tools", "refund_payment.yaml");
    writeFileSync(tool, readFileSync(tool, "utf8").replace("Refund a Stripe payment", "Refund a Stripe payment, changed"));
    await keyrunner(["build", changed, "--out", other]);
    rmSync(join(out, "generated"), { recursive: true });
    cpSync(join(other, "generated"), join(out, "generated"), { recursive: true });
    const torn = await keyrunner(["build", changed, "--out", out, "--check"]);
    expect(torn.code).toBe(1);
    expect(torn.stderr).toContain("  ../keyrunner.mjs\n  ../manifest.json\n");
  });

  it("writes by rename: a link at an output name is replaced, not written through, and no staging folder stays", async () => {
    const out = join(project, "out7");
    mkdirSync(out);
    const victim = join(project, "..", "outside-victim.txt");
    writeFileSync(victim, "not KeyRunner's\n");
    symlinkSync(victim, join(out, "keyrunner.mjs"));
    symlinkSync(victim, join(out, "manifest.json"));
    expect((await keyrunner(["build", project, "--out", out])).code).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("not KeyRunner's\n");
    expect(statSync(victim).mode & 0o777).not.toBe(0o755);
    expect(lstatSync(join(out, "keyrunner.mjs")).isFile()).toBe(true);
    expect(readdirSync(out).sort()).toEqual(["generated", "keyrunner.mjs", "manifest.json"]);
    expect((await keyrunner(["build", project, "--out", out, "--check"])).code).toBe(0);
  });

  it("a default dist/ that is a link out of the config is refused before anything is written; --out may name it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "kr-build-cwd-"));
    const config = join(cwd, "config");
    cpSync(project, config, { recursive: true, filter: (path) => !/\/out\d+$/.test(path) });
    const victim = mkdtempSync(join(tmpdir(), "kr-victim-"));
    mkdirSync(join(victim, "generated"));
    writeFileSync(join(victim, "generated", "keep.txt"), "not KeyRunner's\n");
    symlinkSync(victim, join(config, "dist"));
    const refused = await keyrunner(["build", "config"], { cwd });
    expect(refused.stderr).toBe(`error: config/dist/ is a symbolic link to ${victim}, outside the config: the default output is written only inside the config; name an output elsewhere with --out\n`);
    expect(refused.code).toBe(1);
    expect(readdirSync(victim)).toEqual(["generated"]);
    expect(readFileSync(join(victim, "generated", "keep.txt"), "utf8")).toBe("not KeyRunner's\n");
    // Dangling, the link still leads out: nothing is made at its target.
    rmSync(victim, { recursive: true });
    expect((await keyrunner(["build", "config"], { cwd })).code).toBe(1);
    expect(() => statSync(victim)).toThrow();
    // Named on purpose, the same place is written.
    mkdirSync(victim);
    expect((await keyrunner(["build", "config", "--out", "config/dist"], { cwd })).code).toBe(0);
    expect(readdirSync(victim).sort()).toEqual(["generated", "keyrunner.mjs", "manifest.json"]);
  });

  it("a default dist/ that links to a folder inside the config is written", async () => {
    const config = mkdtempSync(join(tmpdir(), "kr-build-inside-"));
    cpSync(join(root, "tools"), join(config, "tools"), { recursive: true });
    cpSync(join(root, "policies"), join(config, "policies"), { recursive: true });
    cpSync(join(root, "context.yaml"), join(config, "context.yaml"));
    mkdirSync(join(config, "build-output"));
    symlinkSync("build-output", join(config, "dist"));
    expect((await keyrunner(["build", config])).code).toBe(0);
    expect(readdirSync(join(config, "build-output")).sort()).toEqual(["generated", "keyrunner.mjs", "manifest.json"]);
  });

  it("a build that cannot write says where, in one line, and exits 1", async () => {
    const file = join(project, "..", "a-plain-file");
    writeFileSync(file, "x");
    const failed = await keyrunner(["build", project, "--out", join(file, "dist")]);
    expect(failed.stderr).toBe(`keyrunner: build failed: cannot make the directory ${join(file, "dist")}: ${file} is not a directory (ENOTDIR)\n`);
    expect(failed.code).toBe(1);
  });

  it("build DIR writes DIR/dist, not ./dist; --out is relative to the current folder", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "kr-build-cwd-"));
    const config = join(cwd, "config");
    cpSync(join(root, "tools"), join(config, "tools"), { recursive: true });
    cpSync(join(root, "policies"), join(config, "policies"), { recursive: true });
    cpSync(join(root, "context.yaml"), join(config, "context.yaml"));
    const beside = await keyrunner(["build", "config"], { cwd });
    expect(beside.code).toBe(0);
    expect(beside.stdout).toMatch(/^wrote config\/dist\/keyrunner\.mjs /);
    expect(statSync(join(config, "dist", "keyrunner.mjs")).isFile()).toBe(true);
    expect(() => statSync(join(cwd, "dist"))).toThrow();
    expect((await keyrunner(["build", "config", "--check"], { cwd })).stdout).toBe("config/dist/generated is up to date\n");
    const elsewhere = await keyrunner(["build", "config", "--out", "out"], { cwd });
    expect(elsewhere.code).toBe(0);
    expect(statSync(join(cwd, "out", "manifest.json")).isFile()).toBe(true);
    expect(() => statSync(join(config, "out"))).toThrow();
  });

  it("writes nothing when the config has errors", async () => {
    const broken = join(root, "test", "errors", "overlap-allow-and-deny");
    const out = join(project, "broken-out");
    const result = await keyrunner(["build", broken, "--out", out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error KR4002");
    expect(() => statSync(out)).toThrow();
  });
});

describe("keyrunner explain and run", () => {
  it("explain prints the deciding rule and exits 0 when allowed, 2 when denied or invalid", async () => {
    const allowed = await keyrunner(["explain", "--agent", "support-agent", "--tool", "refund_payment", "--input", '{"payment_id":"pi_1","amount_cents":100}', "--reason", "asked"]);
    expect(allowed).toMatchObject({ code: 0, stdout: "allowed by policies/support_refunds.yaml#allow[0]\n" });
    const denied = await keyrunner(["explain", "--agent", "support-agent", "--tool", "refund_payment", "--input", '{"payment_id":"pi_1","amount_cents":9000}', "--reason", "asked"]);
    expect(denied).toMatchObject({ code: 2, stdout: "denied: no rule allows this request: amount_cents 9000 is above 5000 (policies/support_refunds.yaml#allow[0])\n" });
    const invalid = await keyrunner(["explain", "--agent", "support-agent", "--tool", "refund_payment", "--input", '{"payment_id":"pi_1"}']);
    expect(invalid).toMatchObject({ code: 2, stdout: "invalid input:\n  amount_cents: is required\n" });
  });

  it("explain needs only the context the called tool's rules test, and says which keys when they are missing", async () => {
    const input = '{"service":"api"}';
    const missing = await keyrunner(["explain", "--agent", "ops-agent", "--tool", "restart_service", "--input", input]);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toBe("error: the rules of `restart_service` test the context `change_freeze`, `environment`, so the request needs --context change_freeze=<none|active> --context environment=<development|staging|production>\n");
    const staging = await keyrunner(["explain", "--agent", "ops-agent", "--tool", "restart_service", "--input", input, "--context", "environment=staging", "--context", "change_freeze=none"]);
    expect(staging).toMatchObject({ code: 0, stdout: "allowed by policies/oncall.yaml#allow[2] with obligations {\"rateLimit\":{\"max\":6,\"perSeconds\":3600}}\n" });
    const night = ["--context", "environment=production", "--context", "change_freeze=none", "--reason", "r", "--at", "2026-12-07T21:00:00Z"];
    expect(await keyrunner(["explain", "--agent", "ops-agent", "--tool", "restart_service", "--input", input, ...night])).toMatchObject({ code: 2 });
    expect((await keyrunner(["explain", "--agent", "ops-agent", "--tool", "restart_service", "--input", input, ...night.slice(0, -1), "2026-12-07T10:00:00Z"])).stdout).toMatch(/^allowed by policies\/oncall\.yaml#allow\[3\]/);
  });

  it("run executes in process exactly as the bundle would: a denial exits 2 and is audited", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kr-run-"));
    const env = { ...process.env, GITHUB_TOKEN: "ghp_test_token_123", HUBSPOT_TOKEN: "hub_test_token_1", PAGERDUTY_ROUTING_KEY: "pd_routing_key_1", POSTMARK_SERVER_TOKEN: "pm_server_token1", STRIPE_API_KEY: "sk_test_key_12345" };
    const audit = join(dir, "audit.jsonl");
    const result = await keyrunner(["run", root, "--agent", "support-agent", "--tool", "refund_payment", "--input", '{"payment_id":"pi_1","amount_cents":9000}', "--reason", "r", "--audit", audit], { env });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "denied", reason: "no rule allows this request: amount_cents 9000 is above 5000 (policies/support_refunds.yaml#allow[0])" });
    expect(readFileSync(audit, "utf8")).toContain('"decision":"deny"');
  });
});

describe("in-memory builds (run, serve, mcp, SDK)", () => {
  it("leave no temporary folder behind: building the same config again reuses one private file", async () => {
    const temp = mkdtempSync(join(tmpdir(), "kr-tmpdir-"));
    const env = { ...process.env, TMPDIR: temp, GITHUB_TOKEN: "ghp_test_token_123", HUBSPOT_TOKEN: "hub_test_token_1", PAGERDUTY_ROUTING_KEY: "pd_routing_key_1", POSTMARK_SERVER_TOKEN: "pm_server_token1", STRIPE_API_KEY: "sk_test_key_12345" };
    const audit = join(mkdtempSync(join(tmpdir(), "kr-run-")), "audit.jsonl");
    for (let i = 0; i < 3; i++) {
      const result = await keyrunner(["run", root, "--agent", "support-agent", "--tool", "refund_payment", "--input", '{"payment_id":"pi_1","amount_cents":9000}', "--reason", "r", "--audit", audit], { env });
      expect(result.code).toBe(2);
    }
    const [cache, ...others] = readdirSync(temp);
    expect(others).toEqual([]);
    expect(cache).toBe(`keyrunner-bundles-${process.getuid!()}`);
    expect(statSync(join(temp, cache!)).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(temp, cache!))).toEqual([expect.stringMatching(/^keyrunner-[0-9a-f]{32}\.mjs$/)]);
  });

  it("refuse a cache folder that others can write to", async () => {
    const { bundleCacheDir } = await import("../compiler/build.js");
    const temp = mkdtempSync(join(tmpdir(), "kr-tmpdir-"));
    mkdirSync(join(temp, `keyrunner-bundles-${process.getuid!()}`), { mode: 0o777 });
    chmodSync(join(temp, `keyrunner-bundles-${process.getuid!()}`), 0o777);
    expect(() => bundleCacheDir(temp)).toThrow(/is not a private folder of this user; remove it or set TMPDIR to another folder/);
  });
});

describe("keyrunner serve and token", () => {
  it("token prints a token whose agents-file line authenticates it against a served config", async () => {
    const { spawn } = await import("node:child_process");
    const issued = await keyrunner(["token", "support-agent"]);
    expect(issued.code).toBe(0);
    const [token, , , line] = issued.stdout.split("\n");
    expect(token).toMatch(/^kr_[A-Za-z0-9_-]{43}$/);
    expect(line).toMatch(/^ {2}support-agent: \{ token_sha256: [0-9a-f]{64} \}$/);
    const dir = mkdtempSync(join(tmpdir(), "kr-serve-"));
    cpSync(join(root, "test", "samples", "seed", "tools"), join(dir, "tools"), { recursive: true });
    cpSync(join(root, "test", "samples", "seed", "policies"), join(dir, "policies"), { recursive: true });
    writeFileSync(join(dir, "agents.yaml"), `agents:\n${line}\n`);
    const child = spawn(process.execPath, [bin, "serve", dir, "--port", "0", "--agents", join(dir, "agents.yaml"), "--audit", join(dir, "a.jsonl")], {
      env: { PATH: process.env.PATH, STRIPE_API_KEY: "sk_test_serve_123456" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const url = await new Promise<string>((resolve) => child.stdout.on("data", (c: Buffer) => /listening on (\S+)/.exec(String(c)) && resolve(/listening on (\S+)/.exec(String(c))![1]!)));
    const tools = await fetch(`${url}/v1/tools`, { headers: { authorization: `Bearer ${token}` } });
    expect(tools.status).toBe(200);
    expect((await tools.json()).tools.map((t: { name: string }) => t.name)).toEqual(["refund_payment"]);
    expect((await fetch(`${url}/v1/tools`, { headers: { authorization: "Bearer kr_wrong" } })).status).toBe(401);
    child.kill("SIGTERM");
    expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(0);
  });

  it("token refuses a name the agents file would refuse, printing no token", async () => {
    for (const name of ["", "bad name!", "_x", "a".repeat(65)]) {
      const refused = await keyrunner(["token", name]);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(`must be an agent name: a letter or digit, then letters, digits, _, . or -, at most 64 characters, not ${JSON.stringify(name)}`);
      expect(refused.code).toBe(1);
    }
  });
});
