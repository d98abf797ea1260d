// `keyrunner audit verify`: re-creates the chain of an audit file record by record and names the first
// record that breaks it (torn or edited line, a gap in the sequence, a hash that does not match).

import { readFileSync } from "node:fs";
import { chainHash, GENESIS, lineSafe, type AuditRecord } from "./audit-record.js";

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** 1-based line of the first record that breaks the chain. */
  brokenAt?: number;
  problem?: string;
}

export function verifyAuditFile(path: string, key: string | undefined): VerifyResult {
  const lines = readFileSync(path, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  let prev = GENESIS;
  let seq = 0;
  for (let i = 0; i < lines.length; i++) {
    let record: AuditRecord;
    try {
      record = JSON.parse(lines[i]!) as AuditRecord;
    } catch {
      return { ok: false, records: i, brokenAt: i + 1, problem: "not a JSON record (torn or edited line)" };
    }
    const { hash, ...unsigned } = record;
    if (record.prev !== prev) return { ok: false, records: i, brokenAt: i + 1, problem: "does not chain to the record before it" };
    if (record.seq !== seq + 1) return { ok: false, records: i, brokenAt: i + 1, problem: `sequence ${record.seq} follows ${seq}` };
    if (chainHash(lineSafe(JSON.stringify(unsigned)), key) !== hash) return { ok: false, records: i, brokenAt: i + 1, problem: "hash does not match its content" };
    prev = hash;
    seq = record.seq;
  }
  return { ok: true, records: lines.length };
}
