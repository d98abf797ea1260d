// Prometheus text metrics: requests by tool and outcome, upstream latency.

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  /** tool -> outcome -> count; labels are escaped when rendered, not on every request. */
  readonly #requests = new Map<string, Map<string, number>>();
  readonly #latency = new Map<string, { buckets: number[]; sum: number; count: number }>();
  /** `build --shadow`: disagreements by their labels, already escaped. */
  readonly #shadow = new Map<string, number>();

  countShadowDisagreement(tool: string, enforced: { decision: string; rule?: string }, shadow: { decision: string; rule?: string }): void {
    const labels = `tool="${escape(tool)}",rule="${escape(enforced.rule ?? "")}",decision="${enforced.decision}",shadow_rule="${escape(shadow.rule ?? "")}",shadow_decision="${shadow.decision}"`;
    this.#shadow.set(labels, (this.#shadow.get(labels) ?? 0) + 1);
  }

  /** tool -> credential-shaped strings replaced by `output.redact_credentials`. */
  readonly #credentialsRedacted = new Map<string, number>();

  countCredentialsRedacted(tool: string, count: number): void {
    this.#credentialsRedacted.set(tool, (this.#credentialsRedacted.get(tool) ?? 0) + count);
  }

  countRequest(tool: string, outcome: string): void {
    let byOutcome = this.#requests.get(tool);
    if (byOutcome === undefined) this.#requests.set(tool, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  observeUpstream(tool: string, seconds: number): void {
    let entry = this.#latency.get(tool);
    if (entry === undefined) this.#latency.set(tool, (entry = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) entry.buckets[i]!++;
    entry.sum += seconds;
    entry.count++;
  }

  render(): string {
    const lines = ["# HELP keyrunner_requests_total Requests by tool and outcome.", "# TYPE keyrunner_requests_total counter"];
    const counted: Array<[string, number]> = [];
    for (const [tool, byOutcome] of this.#requests) for (const [outcome, n] of byOutcome) counted.push([`tool="${escape(tool)}",outcome="${escape(outcome)}"`, n]);
    for (const [labels, n] of counted.sort()) lines.push(`keyrunner_requests_total{${labels}} ${n}`);
    lines.push("# HELP keyrunner_upstream_seconds Upstream latency by tool.", "# TYPE keyrunner_upstream_seconds histogram");
    for (const [tool, e] of [...this.#latency].sort()) {
      const t = escape(tool);
      LATENCY_BUCKETS.forEach((le, i) => lines.push(`keyrunner_upstream_seconds_bucket{tool="${t}",le="${le}"} ${e.buckets[i]}`));
      lines.push(`keyrunner_upstream_seconds_bucket{tool="${t}",le="+Inf"} ${e.count}`);
      lines.push(`keyrunner_upstream_seconds_sum{tool="${t}"} ${e.sum}`, `keyrunner_upstream_seconds_count{tool="${t}"} ${e.count}`);
    }
    if (this.#shadow.size > 0) {
      lines.push("# HELP keyrunner_shadow_disagreements_total Requests the shadow config decides differently, by enforced and shadow rule.", "# TYPE keyrunner_shadow_disagreements_total counter");
      for (const [labels, n] of [...this.#shadow].sort()) lines.push(`keyrunner_shadow_disagreements_total{${labels}} ${n}`);
    }
    if (this.#credentialsRedacted.size > 0) {
      lines.push("# HELP keyrunner_credentials_redacted_total Credential-shaped strings replaced in results (output.redact_credentials).", "# TYPE keyrunner_credentials_redacted_total counter");
      for (const [tool, n] of [...this.#credentialsRedacted].sort()) lines.push(`keyrunner_credentials_redacted_total{tool="${escape(tool)}"} ${n}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

function escape(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}
