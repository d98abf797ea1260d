// Writes a large, sound config for benchmarks: TOOLS tools in files of 100 documents, and five rules
// per tool across two policies with a shared agent, so every tool has ten rule pairs to prove disjoint.
// String constants differ per tool, so the analysis cannot reuse one tool's automata for the next.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function generateConfig(dir, tools) {
  mkdirSync(join(dir, "tools"), { recursive: true });
  mkdirSync(join(dir, "policies"), { recursive: true });
  const groups = Math.ceil(tools / 100);
  let rules = 0;
  for (let g = 0; g < groups; g++) {
    const docs = [];
    const support = [];
    const guard = [];
    for (let i = g * 100; i < Math.min(tools, (g + 1) * 100); i++) {
      const name = `pay_${i}`;
      const prefix = `acct_${i.toString(36)}_`;
      docs.push(`tool: ${name}
description: Benchmark payment tool ${i}
input:
  amount: { type: integer, minimum: 0, maximum: 100000 }
  currency: { type: string, enum: [usd, eur, gbp] }
  account: { type: string, pattern: "^acct_[a-z0-9_]{2,24}$" }
  memo: { type: string, maxLength: 200 }
run:
  type: http
  method: POST
  url: https://api.example.com/v1/tools/${i}/payments
  auth: { secret: BENCH_API_KEY }
  body: { amount: "\${amount}", currency: "\${currency}", account: "\${account}", memo: "\${memo}" }
`);
      support.push(`  - tool: ${name}
    when:
      amount: { max: 1000 }
      currency: { in: [usd, eur] }
      account: { starts_with: ${prefix} }
  - tool: ${name}
    when:
      amount: { min: 1001, max: 5000 }
      memo: { not_matches: "(sk_live_|ghp_|AKIA)" }
      require_reason: true
  - tool: ${name}
    when:
      amount: { min: 5001 }
      require_reason: true
    require_approval: true
`);
      guard.push(`  - tool: ${name}
    when:
      amount: { max: 1000 }
      currency: { equals: gbp }
    reason: No small GBP payments from agents.
  - tool: ${name}
    when:
      amount: { max: 1000 }
      currency: { in: [usd, eur] }
      account: { not_starts_with: ${prefix} }
    reason: Only the tool's own accounts.
`);
      rules += 5;
    }
    writeFileSync(join(dir, "tools", `group_${g}.yaml`), docs.join("---\n"));
    writeFileSync(join(dir, "policies", `group_${g}_support.yaml`), `policy: group_${g}_support\nagents: [support-agent]\nallow:\n${support.join("")}`);
    writeFileSync(join(dir, "policies", `group_${g}_guard.yaml`), `policy: group_${g}_guard\nagents: [support-agent, ops-agent]\ndeny:\n${guard.join("")}`);
  }
  return { tools, rules };
}
