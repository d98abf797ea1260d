// The credential pattern set behind `no_credentials: true` and `output.redact_credentials` (versioned;
// docs/policy-semantics.md). Each pattern is regular (no look-arounds, no back-references), so the compiler
// turns it into a DFA and the analyser reasons about it like any `matches`.
//
// Sources: gitleaks' default rules (github.com/gitleaks/gitleaks, config/gitleaks.toml: aws-access-token,
// github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat,
// stripe-access-token, slack-*-token, gcp-api-key, private-key, jwt) and secretlint's rule presets
// (@secretlint/secretlint-rule-preset-recommend). Where a rule's fixed-length tail would need a deterministic
// automaton over the compiler's size limit (KR3024), the pattern keeps a shorter tail: it then matches every
// credential the original matches, and a few more strings of the same shape.

export const CREDENTIAL_PATTERN_SET_VERSION = "2026.12-1";

export interface CredentialPattern {
  /** Stable id, named in denials and in docs. */
  readonly id: string;
  /** What kind of credential, for messages. */
  readonly description: string;
  /** Search semantics, `u` flag, as a `matches` condition reads it. */
  readonly source: string;
}

export const CREDENTIAL_PATTERNS: readonly CredentialPattern[] = [
  { id: "aws-access-key-id", description: "an AWS access key id", source: "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}" },
  { id: "github-token", description: "a GitHub token", source: "(?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}" },
  { id: "github-fine-grained-token", description: "a GitHub fine-grained token", source: "github_pat_[0-9A-Za-z_]{22}" },
  { id: "stripe-key", description: "a Stripe secret or restricted key", source: "(?:sk|rk)_(?:test|live|prod)_[0-9A-Za-z]{10}" },
  { id: "slack-token", description: "a Slack token", source: "xox[abeprs]-[0-9A-Za-z-]{10}" },
  { id: "google-api-key", description: "a Google API key", source: "AIza[0-9A-Za-z_-]{20}" },
  { id: "private-key", description: "a PEM private key block", source: "-----BEGIN[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----" },
  { id: "jwt", description: "a JSON Web Token", source: "eyJ[0-9A-Za-z_-]{10}[0-9A-Za-z_-]*\\.eyJ[0-9A-Za-z_-]{10}[0-9A-Za-z_-]*\\.[0-9A-Za-z_-]{10}" },
];
