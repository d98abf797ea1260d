// `keyrunner ca init` and `keyrunner proxy-env`: the library behind the two commands that set up HTTPS
// interception (docs/forward-proxy.md). The CLI only prints what these return.

import { existsSync, readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { caPaths, writeAtomically, writeCaFiles } from "../runtime-template/interception/ca-files.js";
import { PathError } from "../runtime-template/process/make-directory.js";
import { systemErrorText } from "../runtime-template/process/system-error-text.js";
import { packageRoot } from "./phases/6-bundle/bundle-runtime.js";
import { check, type ConfigLocation } from "./index.js";

export type CommandResult = { ok: true; text: string } | { ok: false; message: string; diagnostics?: boolean };

/** The https hosts of a config's http tools, or the reason there are none. */
export function configHosts(location: ConfigLocation): { hosts: string[] } | { message: string; diagnostics: true } | { message: string } {
  const result = check(location);
  if (result.analysis === undefined || result.diagnostics.some((d) => d.severity === "error")) return { message: "the config does not compile", diagnostics: true };
  const hosts = new Set<string>();
  for (const tool of result.analysis.config.tools.values()) {
    if (tool.run.type !== "http") continue;
    const origin = new URL(tool.run.origin);
    if (origin.protocol === "https:") hosts.add(origin.hostname.startsWith("[") ? origin.hostname.slice(1, -1) : origin.hostname);
  }
  if (hosts.size === 0) return { message: "no tool of the config has an https origin: there is nothing to intercept" };
  return { hosts: [...hosts].sort() };
}

/** `ca init DIR`: a new CA constrained to the config's https hosts, written into DIR. */
export async function initCa(dir: string, location: ConfigLocation, force: boolean): Promise<CommandResult> {
  const found = configHosts(location);
  if (!("hosts" in found)) return { ok: false, ...found };
  const { createCa, CA_VALIDITY_DAYS } = await import("../runtime-template/interception/local-ca.js");
  const ca = await createCa(found.hosts);
  const { CaExists } = await import("../runtime-template/interception/ca-files.js");
  try {
    writeCaFiles(dir, ca, force);
  } catch (error) {
    if (error instanceof CaExists || error instanceof PathError) return { ok: false, message: error.message };
    return { ok: false, message: `cannot write the CA into ${dir}: ${systemErrorText(error)}` };
  }
  const paths = caPaths(dir);
  return {
    ok: true,
    text: `wrote ${paths.cert} (trust this) and ${paths.key} (mode 0600, only the bundle reads it)\nvalid ${CA_VALIDITY_DAYS} days; may sign only for: ${found.hosts.join(", ")}\n`,
  };
}

/** The system's CA bundle, where a distribution keeps one; else Node's own root store. */
const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"];
export function systemRoots(): string {
  const file = SYSTEM_BUNDLES.find((p) => existsSync(p));
  return file !== undefined ? readFileSync(file, "utf8") : `${rootCertificates.join("\n")}\n`;
}

export const TRUST_BUNDLE_FILE = "trust-bundle.pem";
export const PROXY_PRELOAD = join(packageRoot, "bin", "proxy-preload.mjs");

/** A value as a POSIX shell word. */
const shellWord = (value: string) => (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`);

/**
 * `proxy-env --proxy URL --ca DIR`: the environment an agent process needs, as `export` lines; writes
 * DIR/trust-bundle.pem (the system's roots and the CA) for the clients whose CA setting replaces the store.
 */
export function proxyEnv(proxy: string, dir: string): CommandResult {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return { ok: false, message: `--proxy must be a URL such as http://AGENT:TOKEN@127.0.0.1:8787, not ${JSON.stringify(proxy.replace(/\/\/[^@/]*@/, "//…@"))}` };
  }
  if (url.protocol !== "http:" || url.pathname !== "/" || url.search !== "" || url.hash !== "") return { ok: false, message: "--proxy must be http://AGENT:TOKEN@HOST:PORT (the bundle's own address, plain http)" };
  if (url.username === "") return { ok: false, message: "--proxy needs the agent's name and token: http://AGENT:TOKEN@HOST:PORT" };
  const { cert } = caPaths(dir);
  let caPem: string;
  try {
    caPem = readFileSync(cert, "utf8");
  } catch (error) {
    return { ok: false, message: `cannot read ${cert}: ${(error as NodeJS.ErrnoException).code ?? "error"} (make a CA with \`keyrunner ca init ${dir}\`)` };
  }
  const bundle = resolve(dir, TRUST_BUNDLE_FILE);
  try {
    writeAtomically(bundle, `${systemRoots().trimEnd()}\n${caPem}`, 0o644, true);
  } catch (error) {
    return { ok: false, message: `cannot write ${bundle}: ${(error as NodeJS.ErrnoException).code ?? "error"}` };
  }
  const proxyUrl = url.href.replace(/\/$/, "");
  const env: Array<[string, string]> = [
    ["HTTPS_PROXY", proxyUrl],
    ["HTTP_PROXY", proxyUrl],
    ["https_proxy", proxyUrl],
    ["http_proxy", proxyUrl],
    // Only the bundle itself is reached directly (its /v1/execute and /mcp); everything else goes through it.
    ["NO_PROXY", url.hostname],
    ["no_proxy", url.hostname],
    ["NODE_EXTRA_CA_CERTS", resolve(cert)],
    ["SSL_CERT_FILE", bundle],
    ["REQUESTS_CA_BUNDLE", bundle],
    ["CURL_CA_BUNDLE", bundle],
    ["GIT_SSL_CAINFO", bundle],
    // NODE_OPTIONS takes a quoted word where the path has a space.
    ["NODE_OPTIONS", `--import ${JSON.stringify(pathToFileURL(PROXY_PRELOAD).href)}`],
  ];
  return { ok: true, text: env.map(([name, value]) => `export ${name}=${shellWord(value)}\n`).join("") };
}
