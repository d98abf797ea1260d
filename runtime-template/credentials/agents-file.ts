// The agents file: `agents:` and `approvers:`, each `{ <name>: { token_sha256: <hex> } }` (YAML or JSON).
// The bundle carries no YAML library, so this reads exactly that shape: a block map or flow maps.

import { readFileSync } from "node:fs";
import { digestMatches, tokenDigest } from "./constant-time.js";

/**
 * An agent (or approver) name, as policies name agents (schemas/policy.schema.json has the same
 * pattern; a test keeps them equal). Without an agents file a client claims its name, and a claim
 * outside this is refused: it could never be named by a policy, and it goes into every audit record.
 */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const AGENT_NAME_RULE = "must be an agent name: a letter or digit, then letters, digits, _, . or -, at most 64 characters";

export interface Principal {
  readonly name: string;
  readonly tokenSha256: string;
  /** Agents execute and never approve; approvers approve and never execute. */
  readonly role: "agent" | "approver";
}

export class AgentsFileError extends Error {}

export function parseAgentsFile(text: string): Principal[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return fromObject(JSON.parse(trimmed) as unknown);
  const principals: Principal[] = [];
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
    const role = section === "agents" ? "agent" : section === "approvers" ? "approver" : undefined;
    if (role === undefined) return;
    if (inline !== null) principals.push({ name: inline[1]!, tokenSha256: inline[2]!.toLowerCase(), role });
    else if (open !== null) pending = open[1];
    else if (digest !== null && pending !== undefined) {
      principals.push({ name: pending, tokenSha256: digest[1]!.toLowerCase(), role });
      pending = undefined;
    } else throw new AgentsFileError(`line ${index + 1}: expected \`<name>: { token_sha256: <64 hex digits> }\``);
  });
  return principals;
}

function fromObject(value: unknown): Principal[] {
  const file = value as { agents?: Record<string, { token_sha256?: string }>; approvers?: Record<string, { token_sha256?: string }> };
  return (["agents", "approvers"] as const).flatMap((section) =>
    Object.entries(file[section] ?? {}).map(([name, entry]) => {
      if (!/^[0-9a-fA-F]{64}$/.test(entry?.token_sha256 ?? "")) throw new AgentsFileError(`${name}: token_sha256 must be 64 hex digits`);
      return { name, tokenSha256: entry.token_sha256!.toLowerCase(), role: section === "agents" ? ("agent" as const) : ("approver" as const) };
    }),
  );
}

export function loadAgentsFile(path: string): Principal[] {
  const principals = parseAgentsFile(readFileSync(path, "utf8"));
  // One token must name one principal, or who acted would depend on the order of the file.
  const byDigest = new Map<string, string>();
  for (const p of principals) {
    const other = byDigest.get(p.tokenSha256);
    if (other !== undefined) throw new AgentsFileError(`${other} and ${p.name} have the same token_sha256; give each its own token`);
    byDigest.set(p.tokenSha256, p.name);
  }
  const names = principals.map((p) => `${p.role}:${p.name}`);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new AgentsFileError(`${duplicate.split(":")[1]} is listed twice`);
  // An approval is a second person's decision: one name under both sections would let an agent's owner
  // approve its own requests (and the audit could not tell the agent from the approver).
  const agents = new Set(principals.filter((p) => p.role === "agent").map((p) => p.name));
  const both = principals.find((p) => p.role === "approver" && agents.has(p.name));
  if (both !== undefined) throw new AgentsFileError(`${both.name} is both an agent and an approver; an approver must be someone other than the agents it approves for`);
  return principals;
}

/** The principal a bearer token names. Every entry is compared, so timing does not depend on which matched. */
export function authenticate(principals: readonly Principal[], token: string): Principal | undefined {
  let found: Principal | undefined;
  // Every principal is compared, whichever matches: the time does not say which one did.
  const presented = tokenDigest(token);
  for (const p of principals) if (digestMatches(presented, p.tokenSha256) && found === undefined) found = p;
  return found;
}
