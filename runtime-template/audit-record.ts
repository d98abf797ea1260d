// The audit record of SPEC section 5: field names are constants, and the hash chains each record to
// the one before it (HMAC-SHA256 when KEYRUNNER_AUDIT_KEY is set).

import { createHash, createHmac } from "node:crypto";

export const AUDIT_VERSION = 1;
export const GENESIS = "0".repeat(64);

export interface AuditRecord {
  v: number;
  seq: number;
  time: string;
  id: string;
  config: string;
  agent: string;
  tool: string;
  input: unknown;
  reason?: string;
  decision: "allow" | "deny" | "invalid" | "outcome";
  rule?: string;
  status?: string;
  http_status?: number;
  duration_ms?: number;
  prev: string;
  hash: string;
}

export type AuditEntry = Omit<AuditRecord, "v" | "seq" | "time" | "prev" | "hash">;

/** The text hashed: the record without `hash`, with keys in a fixed order. */
export function chainHash(record: Omit<AuditRecord, "hash">, key: string | undefined): string {
  const text = JSON.stringify(record, Object.keys(record).sort());
  return key === undefined ? createHash("sha256").update(text).digest("hex") : createHmac("sha256", key).update(text).digest("hex");
}
