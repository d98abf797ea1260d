// Token comparison in constant time: a near miss takes as long as a token sharing nothing.
import { describe, expect, it } from "vitest";
import { authenticate, type Principal } from "./agents-file.js";
import { createHash } from "node:crypto";
import { digestMatches, sha256Hex, tokenDigest } from "./constant-time.js";

const secret = "kr_the_real_token_abcdefghijklmnopqrstuvwxyz";
const principals: Principal[] = Array.from({ length: 8 }, (_, i) => ({ name: `agent-${i}`, tokenSha256: sha256Hex(i === 3 ? secret : `kr_other_${i}`), role: "agent" as const }));

/**
 * Median ns per authenticate() call for each token. The tokens are timed in interleaved batches, so
 * that load from other test files running on the same cores falls on all of them alike.
 */
function medianNs(tokens: readonly string[]): number[] {
  const samples = tokens.map(() => [] as number[]);
  for (let batch = 0; batch < 61; batch++) {
    tokens.forEach((token, i) => {
      const started = process.hrtime.bigint();
      for (let n = 0; n < 300; n++) authenticate(principals, token);
      samples[i]!.push(Number(process.hrtime.bigint() - started) / 300);
    });
  }
  return samples.map((s) => s.sort((a, b) => a - b)[30]!);
}

describe("the presented token's digest", () => {
  it("is the sha256 of the token's UTF-8 bytes, 32 bytes, for any text (a latin1 round trip loses nothing)", () => {
    for (const token of [secret, "", "ÿ\u00ff\u0100", "kr_\u{1f600}_é", "\u0000\ud800", "x".repeat(5000)]) {
      const expected = createHash("sha256").update(token).digest();
      expect(tokenDigest(token)).toEqual(expected);
      expect(digestMatches(tokenDigest(token), expected.toString("hex"))).toBe(true);
      expect(digestMatches(tokenDigest(`${token}!`), expected.toString("hex"))).toBe(false);
    }
  });
});

describe("token comparison timing", () => {
  it("takes about as long for a near-miss as for a token sharing nothing, and for the right one", () => {
    medianNs([secret]); // warm up
    const [right, nearMiss, unrelated] = medianNs([secret, `${secret.slice(0, -1)}X`, "x".repeat(secret.length)]) as [number, number, number];
    // Every entry is hashed and compared whatever matches: no early exit by prefix or by position.
    for (const t of [nearMiss, unrelated]) expect(t / right).toBeGreaterThan(0.75);
    for (const t of [nearMiss, unrelated]) expect(t / right).toBeLessThan(1.33);
    expect(authenticate(principals, secret)?.name).toBe("agent-3");
    expect(authenticate(principals, `${secret}x`)).toBeUndefined();
  });
});
