// The agents file: `agents: { <name>: { token_sha256: <hex> } }` (YAML or JSON). The bundle carries no
// YAML library, so this reads exactly that shape: a block map or flow maps, nothing else.

import { readFileSync } from "node:fs";
import { tokenMatchesDigest } from "./constant-time.js";

export interface Principal {
  readonly name: string;
  readonly tokenSha256: string;
}

export class AgentsFileError extends Error {}

export function parseAgentsFile(text: string): Principal[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return fromObject(JSON.parse(trimmed) as unknown);
  const agents: Principal[] = [];
  let section: string | undefined;
  let pending: string | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/\s+#.*$/, "").replace(/^#.*$/, "");
    if (line.trim() === "") return;
    const top = /^([a-z_]+):\s*$/.exec(line);
    if (top !== null) {
      section = top[1];
      return;
    }
    const inline = /^\s+([A-Za-z0-9][A-Za-z0-9_.-]*):\s*\{\s*token_sha256:\s*["']?([0-9a-fA-F]{64})["']?\s*\}\s*$/.exec(line);
    const open = /^\s+([A-Za-z0-9][A-Za-z0-9_.-]*):\s*$/.exec(line);
    const digest = /^\s+token_sha256:\s*["']?([0-9a-fA-F]{64})["']?\s*$/.exec(line);
    if (section === "agents" && inline !== null) agents.push({ name: inline[1]!, tokenSha256: inline[2]!.toLowerCase() });
    else if (section === "agents" && open !== null) pending = open[1];
    else if (section === "agents" && digest !== null && pending !== undefined) {
      agents.push({ name: pending, tokenSha256: digest[1]!.toLowerCase() });
      pending = undefined;
    } else if (section !== "agents") return;
    else throw new AgentsFileError(`line ${index + 1}: expected \`<agent>: { token_sha256: <64 hex digits> }\``);
  });
  return agents;
}

function fromObject(value: unknown): Principal[] {
  const agents = (value as { agents?: Record<string, { token_sha256?: string }> }).agents ?? {};
  return Object.entries(agents).map(([name, entry]) => {
    if (!/^[0-9a-fA-F]{64}$/.test(entry?.token_sha256 ?? "")) throw new AgentsFileError(`agent ${name}: token_sha256 must be 64 hex digits`);
    return { name, tokenSha256: entry.token_sha256!.toLowerCase() };
  });
}

export function loadAgentsFile(path: string): Principal[] {
  return parseAgentsFile(readFileSync(path, "utf8"));
}

/** The principal a bearer token names. Every entry is compared, so timing does not depend on which matched. */
export function authenticate(principals: readonly Principal[], token: string): Principal | undefined {
  let found: Principal | undefined;
  for (const p of principals) if (tokenMatchesDigest(token, p.tokenSha256) && found === undefined) found = p;
  return found;
}
