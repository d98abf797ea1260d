// `npm start`: an offline demo of what KeyRunner does today, on the embedded example config.
// 1. `keyrunner check` proves the shipped tools and policies sound.
// 2. A change a teammate might propose (a deny layered on an allow) is caught, with a witness request
//    that both rules match and the fix to write the exception out.
// 3. The fix is applied and the config is proven sound again.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { check, checkSources, renderHuman, renderSummary } from "../lib/compiler/index.js";

const root = join(import.meta.dirname, "..");
const say = (text) => console.log(`\n\x1b[1m${text}\x1b[0m`);

say("1. keyrunner check on the example config (tools/, policies/)");
const shipped = check({ dir: root });
console.log(renderHuman(shipped.diagnostics, shipped.sources) + renderSummary(shipped.diagnostics));
for (const [tool, rules] of shipped.analysis.rulesByTool) {
  console.log(`   ${tool}: ${rules.map((r) => `${r.effect} ${r.id}`).join(", ")}`);
}

const files = ["tools", "policies"].flatMap((kind) =>
  readdirSync(join(root, kind)).filter((name) => name.endsWith(".yaml")).map((name) => ({
    path: `${kind}/${name}`,
    kind: kind === "tools" ? "tool" : "policy",
    text: readFileSync(join(root, kind, name), "utf8"),
  })),
);
const exception = `policy: test_payments
deny:
  - tool: refund_payment
    when:
      payment_id: { starts_with: pi_test_ }
    reason: Test payments are refunded from the test dashboard.
`;

say("2. A proposed change: deny refunds of test payments, layered on the existing allow");
const proposed = checkSources([...files, { path: "policies/test_payments.yaml", kind: "policy", text: exception }]);
console.log(renderHuman(proposed.diagnostics, proposed.sources) + renderSummary(proposed.diagnostics));

say("3. The exception written out: the allow excludes test payments, so no request depends on rule order");
const fixed = files.map((f) =>
  f.path === "policies/support_refunds.yaml"
    ? { ...f, text: f.text.replace("      require_reason: true\n", "      require_reason: true\n      payment_id: { not_starts_with: pi_test_ }\n") }
    : f,
);
const sound = checkSources([...fixed, { path: "policies/test_payments.yaml", kind: "policy", text: exception }]);
console.log(renderHuman(sound.diagnostics, sound.sources) + renderSummary(sound.diagnostics));
const witness = sound.analysis.ruleWitnesses;
console.log(`   a request the allow matches: ${JSON.stringify(witness.get("policies/support_refunds.yaml#allow[0]"))}`);
console.log(`   a request the deny matches:  ${JSON.stringify(witness.get("policies/test_payments.yaml#deny[0]"))}`);
process.exitCode = shipped.analysis && sound.analysis && !proposed.analysis ? 0 : 1;
