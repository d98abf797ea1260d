// Small primitives that must not leak timing: token checks compare fixed-length digests.
import { createHash, hash, timingSafeEqual } from "node:crypto";

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A presented token's sha256, made once per request however many stored digests it is compared with. */
export function tokenDigest(token: string): Buffer {
  return hash("sha256", token, "buffer") as unknown as Buffer;
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
