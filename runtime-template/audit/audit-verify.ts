// `keyrunner audit verify`: re-creates the chain of an audit file record by record and names the first
// record that breaks it (torn or edited line, a gap in the sequence, a hash that does not match, bytes
// other than the writer's). The file is read in chunks, so its size is bounded by the disk, not by the
// longest string V8 can hold (~512 MiB).

import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { chainHash, GENESIS, lineSafe, type AuditRecord } from "./audit-record.js";

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** 1-based line of the first record that breaks the chain. */
  brokenAt?: number;
  problem?: string;
}

const CHUNK_BYTES = 1 << 20;
/** No record the runtime writes comes near this; a longer line is not one of its records. */
const LONGEST_RECORD = 16 << 20;

export function verifyAuditFile(path: string, key: string | undefined): VerifyResult {
  let prev = GENESIS;
  let seq = 0;
  let records = 0;
  const check = (line: string): string | undefined => {
    if (line.length > LONGEST_RECORD) return `longer than any record (${LONGEST_RECORD} characters)`;
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return "not a JSON record (torn or edited line)";
    }
    if (record === null || typeof record !== "object") return "not a JSON record (torn or edited line)";
    const { hash, ...unsigned } = record;
    if (record.prev !== prev) return "does not chain to the record before it";
    if (record.seq !== seq + 1) return `sequence ${record.seq} follows ${seq}`;
    if (chainHash(lineSafe(JSON.stringify(unsigned)), key) !== hash) return "hash does not match its content";
    // The hash covers the record's fields; the line must also be the writer's bytes for them (no added
    // whitespace, a CR, other escapes or a repeated key), or two files could verify with one chain.
    if (lineSafe(JSON.stringify(record)) !== line) return "not written as the runtime writes it (whitespace, escapes or a repeated key changed)";
    prev = hash;
    seq = record.seq;
    return undefined;
  };
  const fd = openSync(path, "r");
  try {
    const decoder = new StringDecoder("utf8");
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let pending = "";
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      const text = read === 0 ? decoder.end() : decoder.write(buffer.subarray(0, read));
      let start = 0;
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        const line = pending + text.slice(start, end);
        pending = "";
        start = end + 1;
        const problem = check(line);
        if (problem !== undefined) return { ok: false, records, brokenAt: records + 1, problem };
        records++;
      }
      pending += text.slice(start);
      if (pending.length > LONGEST_RECORD) return { ok: false, records, brokenAt: records + 1, problem: `longer than any record (${LONGEST_RECORD} characters)` };
      if (read === 0) break;
    }
    // A last line without its newline: a torn write, unless it is a whole record.
    if (pending !== "") {
      const problem = check(pending);
      if (problem !== undefined) return { ok: false, records, brokenAt: records + 1, problem };
      records++;
    }
  } finally {
    closeSync(fd);
  }
  return { ok: true, records };
}
