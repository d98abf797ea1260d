import { describe, expect, it } from "vitest";
import { authenticate, type Principal } from "../../runtime-template/agents-file.js";
import { sha256Hex } from "../../runtime-template/constant-time.js";

const secret = "kr_the_real_token_abcdefghijklmnopqrstuvwxyz";
const principals: Principal[] = Array.from({ length: 8 }, (_, i) => ({ name: `agent-${i}`, tokenSha256: sha256Hex(i === 3 ? secret : `kr_other_${i}`), role: "agent" as const }));

function medianNs(token: string): number {
  const samples: number[] = [];
  for (let batch = 0; batch < 41; batch++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 300; i++) authenticate(principals, token);
    samples.push(Number(process.hrtime.bigint() - started) / 300);
  }
  return samples.sort((a, b) => a - b)[20]!;
}

describe("token comparison timing", () => {
  it("takes about as long for a near-miss as for a token sharing nothing, and for the right one", () => {
    medianNs(secret); // warm up
    const right = medianNs(secret);
    const nearMiss = medianNs(`${secret.slice(0, -1)}X`);
    const unrelated = medianNs("x".repeat(secret.length));
    // Every entry is hashed and compared whatever matches: no early exit by prefix or by position.
    for (const t of [nearMiss, unrelated]) expect(t / right).toBeGreaterThan(0.75);
    for (const t of [nearMiss, unrelated]) expect(t / right).toBeLessThan(1.33);
    expect(authenticate(principals, secret)?.name).toBe("agent-3");
    expect(authenticate(principals, `${secret}x`)).toBeUndefined();
  });
});
