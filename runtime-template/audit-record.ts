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
  decision: "allow" | "deny" | "invalid" | "outcome" | "pending_approval" | "approval_granted" | "approval_denied";
  rule?: string;
  approval_id?: string;
  /** The approver who granted or denied an approval. */
  approver?: string;
  status?: string;
  http_status?: number;
  duration_ms?: number;
  prev: string;
  hash: string;
}

export type AuditEntry = Omit<AuditRecord, "v" | "seq" | "time" | "prev" | "hash">;

/**
 * The hash covers the record's JSON text exactly as written, without its final `hash` field: a verifier
 * parses the line, drops `hash`, and stringifies again (JSON.parse/JSON.stringify keep key order and
 * number formatting, so the text is reproduced byte for byte).
 */
export function chainHash(text: string, key: string | undefined): string {
  return key === undefined ? createHash("sha256").update(text).digest("hex") : createHmac("sha256", key).update(text).digest("hex");
}

/** The line written for a record: its JSON text with the chained hash appended as the last field. */
export function sealRecord(unsigned: Omit<AuditRecord, "hash">, key: string | undefined): { record: AuditRecord; line: string } {
  const text = JSON.stringify(unsigned);
  const hash = chainHash(text, key);
  return { record: { ...unsigned, hash }, line: `${text.slice(0, -1)},"hash":"${hash}"}\n` };
}
