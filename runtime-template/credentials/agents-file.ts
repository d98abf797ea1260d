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

const SECTIONS = ["agents", "approvers"] as const;
type Section = (typeof SECTIONS)[number];
const roleOf = (section: Section): Principal["role"] => (section === "agents" ? "agent" : "approver");
const SECTION_RULE = "an agents file has two sections, `agents:` and `approvers:`";
const ENTRY_RULE = "expected `<name>: { token_sha256: <64 hex digits> }`";

/**
 * Reads the file strictly: a line it does not understand is an error with its number, never skipped, so
 * a typo (`agent:`) cannot leave a server that silently knows fewer principals than its operator wrote.
 */
export function parseAgentsFile(text: string): Principal[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new AgentsFileError(`not valid JSON: ${(error as Error).message}`);
    }
    return fromObject(value);
  }
  const principals: Principal[] = [];
  let section: Section | undefined;
  let pending: { name: string; at: string } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const at = `line ${index + 1}`;
    const line = raw.replace(/\s+#.*$/, "").replace(/^#.*$/, "");
    if (line.trim() === "") return;
    if (pending !== undefined && !/^\s+token_sha256:/.test(line)) throw new AgentsFileError(`${pending.at}: ${pending.name} has no token_sha256 under it`);
    const top = /^([^\s:]+):\s*(.*)$/.exec(line);
    if (top !== null) {
      if (!(SECTIONS as readonly string[]).includes(top[1]!)) throw new AgentsFileError(`${at}: unknown section \`${top[1]}\`; ${SECTION_RULE}`);
      section = top[1] as Section;
      // `agents: { bot: { token_sha256: … }, … }` on the section's own line (or `{}`: none).
      if (top[2] !== "") principals.push(...flowEntries(top[2]!, roleOf(section), at));
      return;
    }
    if (section === undefined) throw new AgentsFileError(`${at}: an entry before any section; ${SECTION_RULE}`);
    const role = roleOf(section);
    const inline = /^\s+([A-Za-z0-9][A-Za-z0-9_.-]*):\s*\{\s*token_sha256:\s*["']?([0-9a-fA-F]{64})["']?\s*\}\s*$/.exec(line);
    const open = /^\s+([A-Za-z0-9][A-Za-z0-9_.-]*):\s*$/.exec(line);
    const digest = /^\s+token_sha256:\s*["']?([0-9a-fA-F]{64})["']?\s*$/.exec(line);
    if (inline !== null) principals.push({ name: inline[1]!, tokenSha256: inline[2]!.toLowerCase(), role });
    else if (open !== null) pending = { name: open[1]!, at };
    else if (digest !== null && pending !== undefined) {
      principals.push({ name: pending.name, tokenSha256: digest[1]!.toLowerCase(), role });
      pending = undefined;
    } else throw new AgentsFileError(`${at}: ${ENTRY_RULE}`);
  });
  if (pending !== undefined) throw new AgentsFileError(`${pending.at}: ${pending.name} has no token_sha256 under it`);
  return principals;
}

/** The entries of a flow map, `{ a: { token_sha256: … }, b: { … } }`; anything else in it is an error. */
function flowEntries(text: string, role: Principal["role"], at: string): Principal[] {
  const inner = /^\{(.*)\}$/.exec(text.trim());
  if (inner === null) throw new AgentsFileError(`${at}: ${ENTRY_RULE}, in \`{ }\` or on the lines below`);
  if (inner[1]!.trim() === "") return [];
  return inner[1]!.split(/,(?![^{]*\})/).map((part) => {
    const entry = /^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:\s*\{\s*token_sha256\s*:\s*["']?([0-9a-fA-F]{64})["']?\s*\}\s*$/.exec(part);
    if (entry === null) throw new AgentsFileError(`${at}: ${ENTRY_RULE}`);
    return { name: entry[1]!, tokenSha256: entry[2]!.toLowerCase(), role };
  });
}

function fromObject(value: unknown): Principal[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new AgentsFileError(`the JSON must be an object; ${SECTION_RULE}`);
  const unknown = Object.keys(value).find((key) => !(SECTIONS as readonly string[]).includes(key));
  if (unknown !== undefined) throw new AgentsFileError(`unknown section ${JSON.stringify(unknown)}; ${SECTION_RULE}`);
  const file = value as Partial<Record<Section, unknown>>;
  return SECTIONS.flatMap((section) => {
    const entries = file[section] ?? {};
    if (entries === null || typeof entries !== "object" || Array.isArray(entries)) throw new AgentsFileError(`${section} must be an object of \`<name>: { "token_sha256": <64 hex digits> }\``);
    return Object.entries(entries as Record<string, { token_sha256?: unknown } | null>).map(([name, entry]) => {
      const digest = entry?.token_sha256;
      if (typeof digest !== "string" || !/^[0-9a-fA-F]{64}$/.test(digest)) throw new AgentsFileError(`${name}: token_sha256 must be 64 hex digits`);
      return { name, tokenSha256: digest.toLowerCase(), role: roleOf(section) };
    });
  });
}

export function loadAgentsFile(path: string): Principal[] {
  const principals = parseAgentsFile(readFileSync(path, "utf8"));
  // A name goes into every audit record and is what policies name: the same rule as theirs.
  const misnamed = principals.find((p) => !AGENT_NAME.test(p.name));
  if (misnamed !== undefined) throw new AgentsFileError(`${JSON.stringify(misnamed.name)} ${AGENT_NAME_RULE}`);
  // Without an agent every request would be refused: almost surely a mistake (an empty file, a wrong path).
  if (!principals.some((p) => p.role === "agent")) throw new AgentsFileError("names no agent, so every request would be refused; add one under `agents:` (`keyrunner token NAME` prints its line)");
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
