// Small primitives that must not leak timing: token checks compare fixed-length digests.
import { createHash, timingSafeEqual } from "node:crypto";

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Compares a presented token with a stored sha256 hex digest in time independent of where they differ. */
export function tokenMatchesDigest(token: string, digestHex: string): boolean {
  const presented = createHash("sha256").update(token).digest();
  const stored = Buffer.from(digestHex, "hex");
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
