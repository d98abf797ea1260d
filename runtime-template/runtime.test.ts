// Keys stay keys: several runtimes in one process (two SDK instances, say) each keep the audit HMAC key
// and the secrets that the first one took out of process.env.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditFile } from "./audit/audit-verify.js";
import type { CompiledConfig } from "./contract/tool-module.js";
import { createRuntime } from "./runtime.js";

const config: CompiledConfig = { configSha256: "c".repeat(64), tools: new Map(), secrets: ["RUNTIME_TEST_SECRET"] };
const KEY = "audit-hmac-key-for-runtime-test";

afterEach(() => {
  delete process.env.KEYRUNNER_AUDIT_KEY;
  delete process.env.RUNTIME_TEST_SECRET;
});

describe("several runtimes in one process", () => {
  it("each writes an HMAC-keyed chain with KEYRUNNER_AUDIT_KEY, though the first removed it from process.env", async () => {
    process.env.KEYRUNNER_AUDIT_KEY = KEY;
    process.env.RUNTIME_TEST_SECRET = "sk_runtime_test_secret_value";
    const dir = mkdtempSync(join(tmpdir(), "kr-runtimes-"));
    const files = [join(dir, "first.jsonl"), join(dir, "second.jsonl")];
    for (const auditFile of files) {
      const runtime = await createRuntime(config, { auditFile, state: join(dir, `${auditFile.endsWith("first.jsonl") ? "a" : "b"}-state`) });
      expect(process.env.KEYRUNNER_AUDIT_KEY).toBeUndefined();
      expect(process.env.RUNTIME_TEST_SECRET).toBeUndefined();
      expect(runtime.engine.redactor.text("x sk_runtime_test_secret_value y")).toBe("x [REDACTED] y");
      await runtime.execute({ agent: "a", tool: "none", input: {} });
      await runtime.close();
    }
    for (const file of files) {
      expect(verifyAuditFile(file, KEY)).toEqual({ ok: true, records: 1 });
      expect(verifyAuditFile(file, undefined).ok).toBe(false);
    }
  });
});
