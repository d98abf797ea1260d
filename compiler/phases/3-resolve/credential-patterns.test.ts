// The credential pattern set (runtime-template/contract/credential-patterns.ts) on fixtures from the
// rulesets it starts from (gitleaks' rule tests and secretlint's preset fixtures, and the vendors'
// documented example keys): each true positive is found, each near miss is not — by the DFA the generated
// code runs, by the pattern as a RegExp, and by the result redaction of `output.redact_credentials`.

import { describe, expect, it } from "vitest";
import { DfaMatcher } from "../../../runtime-template/contract/dfa-match.js";
import { CREDENTIAL_PATTERNS, CREDENTIAL_PATTERN_SET_VERSION } from "../../../runtime-template/contract/credential-patterns.js";
import { redactCredentialText } from "../../../runtime-template/core/redact-credentials.js";
import { credentialPatternChecks } from "./resolve-conditions.js";

const fixtures: Record<string, { found: string[]; missed: string[] }> = {
  "aws-access-key-id": { found: ["AKIAIOSFODNN7EXAMPLE", "key=ASIAY34FZKBOKMUTVV7A;", "A3T2ABCDEFGHIJKLMNOP"], missed: ["AKIAiosfodnn7example", "AKIA1234", "AKIA0000000000000000"] },
  "github-token": { found: ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "token: gho_16C7e42F292c6912E7710c838347Ae178B4a", "ghs_16C7e42F292c6912E7710c838347Ae178B4a"], missed: ["ghp_16C7e42F292c6912E", "ghx_16C7e42F292c6912E7710c838347Ae178B4a"] },
  "github-fine-grained-token": { found: ["github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"], missed: ["github_pat_short"] },
  "stripe-key": { found: ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_prod_51H8abcdefGHIJ"], missed: ["sk_live_abc123", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"] },
  "slack-token": { found: ["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxp-1234567890-1234567890"], missed: ["xoxq-123456789012-1234567890123", "xoxb-12"] },
  "google-api-key": { found: ["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"], missed: ["AIza123", "AIzb SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"] },
  "private-key": {
    found: ["-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN PGP PRIVATE KEY BLOCK-----"],
    missed: ["-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "BEGIN RSA PRIVATE KEY"],
  },
  jwt: {
    found: ["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"],
    missed: ["eyJhbGciOiJIUzI1NiJ9.payload.signature", "eyJhbGciOiJIUzI1NiJ9"],
  },
};

describe(`credential pattern set ${CREDENTIAL_PATTERN_SET_VERSION}`, () => {
  const checks = credentialPatternChecks();
  it("has fixtures for every pattern, and every pattern compiles to a DFA within the runtime's limit", () => {
    expect(Object.keys(fixtures).sort()).toEqual(CREDENTIAL_PATTERNS.map((p) => p.id).sort());
    expect(checks.map((c) => c.id)).toEqual(CREDENTIAL_PATTERNS.map((p) => p.id));
  });
  for (const check of checks) {
    const { found, missed } = fixtures[check.id]!;
    const dfa = new DfaMatcher(check.pattern.matcher);
    const regex = new RegExp(check.pattern.source, "u");
    for (const text of found) {
      it(`${check.id}: finds ${JSON.stringify(text.slice(0, 40))}`, () => {
        expect(dfa.test(text)).toBe(true);
        expect(regex.test(text)).toBe(true);
        expect(dfa.test(`prefix text ${text} suffix`)).toBe(true);
        const redacted = redactCredentialText(`before ${text} after`);
        expect(redacted.count).toBeGreaterThan(0);
        expect(redacted.text).not.toContain(text.split("\n")[0]!.slice(-12));
      });
    }
    for (const text of missed) {
      it(`${check.id}: does not find ${JSON.stringify(text.slice(0, 40))}`, () => {
        expect(dfa.test(text)).toBe(false);
        expect(regex.test(text)).toBe(false);
      });
    }
  }
  it("leaves ordinary text alone", () => {
    const text = "The link on page 2 is dead; see https://example.com/docs/getting-started?ref=abc_def-123 for details.";
    expect(redactCredentialText(text)).toEqual({ text, count: 0 });
    for (const check of checks) expect(new DfaMatcher(check.pattern.matcher).test(text)).toBe(false);
  });
  it("redacts in linear time: a megabyte of near misses", () => {
    const text = "eyJ".repeat(350_000) + "AKIA".repeat(10_000) + "-----BEGIN ".repeat(1000);
    const started = performance.now();
    redactCredentialText(text);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
