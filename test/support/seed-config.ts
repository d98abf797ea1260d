// The seed's refund tool and policy (SPEC sections 2–3), read from the repository's own example files,
// with the tool's origin pointed at a local stand-in upstream.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

export function seedConfig(origin: string): Record<string, string> {
  return {
    "tools/refund_payment.yaml": readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", origin),
    "policies/support_refunds.yaml": readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"),
  };
}
