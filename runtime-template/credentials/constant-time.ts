// Small primitives that must not leak timing: token checks compare fixed-length digests.
import { createHash, hash, timingSafeEqual } from "node:crypto";

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * A presented token's sha256, made once per request however many stored digests it is compared with.
 * Taken as a 32-character latin1 ("binary") string and copied into a pooled Buffer: on Node 20 that is 1.5 µs,
 * where hash(…, "buffer") — a fresh ArrayBuffer per call — is 2.9 µs (docs/performance.md).
 */
export function tokenDigest(token: string): Buffer {
  return Buffer.from(hash("sha256", token, "binary"), "latin1");
}

/**
 * Stored digests (the agents file's, the metrics token's) decoded once, not on every request. Keyed by the
 * stored digest, never by what a client presents; bounded all the same.
 */
const STORED_DIGESTS_MAX = 4096;
const storedDigests = new Map<string, Buffer>();

/** Compares a presented token's digest with a stored sha256 hex digest in time independent of where they differ. */
export function digestMatches(presented: Buffer, digestHex: string): boolean {
  let stored = storedDigests.get(digestHex);
  if (stored === undefined) {
    stored = Buffer.from(digestHex, "hex");
    if (storedDigests.size < STORED_DIGESTS_MAX) storedDigests.set(digestHex, stored);
  }
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}

/** Compares a presented token with a stored sha256 hex digest in time independent of where they differ. */
export function tokenMatchesDigest(token: string, digestHex: string): boolean {
  return digestMatches(tokenDigest(token), digestHex);
}
