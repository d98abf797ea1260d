// `serve --ca DIR`: the CA read, checked against the config (it must be able to sign for every https
// tool host), and a leaf cache over it. A CA problem stops the start-up with a plain message.

import type { CompiledConfig } from "../contract/tool-module.js";
import { readCaFiles } from "./ca-files.js";
import { LeafCache } from "./leaf-cache.js";
import { CaError, loadCa } from "./local-ca.js";

/** The hosts of the config's https tools: what `ca init` constrains the CA to. */
export function httpsToolHosts(config: Pick<CompiledConfig, "tools">): string[] {
  const hosts = new Set<string>();
  for (const tool of config.tools.values()) {
    if (tool.egress === undefined) continue;
    const origin = new URL(tool.egress.origin);
    if (origin.protocol === "https:") hosts.add(origin.hostname.startsWith("[") ? origin.hostname.slice(1, -1) : origin.hostname);
  }
  return [...hosts].sort();
}

export async function openCa(dir: string, config: Pick<CompiledConfig, "tools">): Promise<{ leaves: LeafCache; notAfter: Date }> {
  const { certPem, keyPem } = readCaFiles(dir);
  const ca = await loadCa(certPem, keyPem);
  const uncovered = httpsToolHosts(config).filter((host) => !ca.permits(host));
  if (uncovered.length > 0) throw new CaError(`the CA in ${dir} is constrained to other hosts and cannot sign for ${uncovered.join(", ")}; make one for this config with \`keyrunner ca init ${dir} --force\``);
  return { leaves: new LeafCache(ca), notAfter: ca.notAfter };
}

export { CaError };
