// Decision changes that depend on the deployment context, the time window or a credential in a string:
// each kind found (with its witness), none, negated, and undecided where the search cannot decide (two
// time zones, a context key with no value both configs declare). Witnesses are replayed through both
// configs' generated code by diffConfigs at the end.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSources } from "../index.js";
import type { Analysis } from "../phases/4-analyze/analyze-rules.js";
import { CREDENTIAL_PATTERNS } from "../../runtime-template/contract/credential-patterns.js";
import { localMinuteOfWeek } from "../../runtime-template/contract/time-window.js";
import { diffConfigs } from "./diff-configs.js";
import { renderDiff } from "./render-diff.js";
import { diffDecisions, type DecisionChange, type UndecidedChange } from "./diff-decisions.js";
import { instantOfMinute, referenceWeek } from "./reference-week.js";

const TOOL = `tool: restart
description: Restart a service
input:
  service: string
  note: string
  tags: { type: "string[]", maxItems: 3 }
run:
  type: http
  method: POST
  url: https://api.example.com/restart
  body: { service: "\${service}", note: "\${note}", tags: "\${tags}" }
`;

const CONTEXT = "context:\n  environment: [development, staging, production]\n";

interface Config {
  readonly policy: string;
  readonly context?: string;
}

function analysis(config: Config): Analysis {
  const result = checkSources([
    { path: "tools/t.yaml", kind: "tool", text: TOOL },
    { path: "policies/p.yaml", kind: "policy", text: config.policy },
    ...(config.context === undefined ? [] : [{ path: "context.yaml", kind: "context" as const, text: config.context }]),
  ]);
  if (result.analysis === undefined) throw new Error(JSON.stringify(result.diagnostics));
  return result.analysis;
}

const rules = (...whens: string[]) => `policy: p\nagents: [ops]\nallow:\n${whens.map((w) => `  - tool: restart\n    when: ${w}\n`).join("")}`;
const diff = (a: Config, b: Config) => diffDecisions(analysis(a), analysis(b));
const decided = (changes: ReturnType<typeof diffDecisions>) => changes.filter((c): c is DecisionChange => c.kind !== "undecided");
const berlin = (between: string, days = "[mon, tue, wed, thu, fri]") => `{ days: ${days}, between: "${between}", timezone: Europe/Berlin }`;
const credentialFound = (text: string) => CREDENTIAL_PATTERNS.some((p) => new RegExp(p.source, "u").test(text));

describe("diff decisions on context keys", () => {
  it("finds the context a widened rule newly allows, and names it in the witness", () => {
    const changes = diff({ policy: rules("{ context.environment: { equals: staging } }"), context: CONTEXT }, { policy: rules("{ context.environment: { in: [staging, development] } }"), context: CONTEXT });
    expect(changes.map((c) => c.kind)).toEqual(["widened"]);
    expect((changes[0] as DecisionChange).witness).toMatchObject({ agent: "ops", tool: "restart", context: { environment: "development" } });
  });

  it("reports nothing between a context-conditioned config and itself", () => {
    const config = { policy: rules("{ context.environment: { equals: staging } }", "{ context.environment: { equals: production }, require_reason: true }"), context: CONTEXT };
    expect(diff(config, config)).toEqual([]);
  });

  it("negates a context condition: a context in which the old rule does not hold", () => {
    const changes = diff({ policy: rules("{ context.environment: { equals: staging } }"), context: CONTEXT }, { policy: rules("{}"), context: CONTEXT });
    const widened = decided(changes);
    expect(widened).toHaveLength(1);
    expect(widened[0]!.kind).toBe("widened");
    expect(["development", "production"]).toContain(widened[0]!.witness.context?.environment);
  });

  it("uses only values both configs declare", () => {
    // OLD allows anywhere but production; NEW declares no development: the change is seen in staging only.
    const changes = diff({ policy: rules("{ context.environment: { not_in: [production] } }"), context: CONTEXT }, { policy: rules("{ context.environment: { equals: production } }"), context: "context:\n  environment: [staging, production]\n" });
    const narrowed = decided(changes).find((c) => c.kind === "narrowed");
    expect(narrowed?.witness.context).toEqual({ environment: "staging" });
  });

  it("is undecided when no value of a tested key is declared in both configs", () => {
    const changes = diff({ policy: rules("{ context.environment: { equals: development } }"), context: "context:\n  environment: [development]\n" }, { policy: rules("{ context.environment: { equals: production } }"), context: "context:\n  environment: [production]\n" });
    expect(changes.length).toBeGreaterThan(0);
    for (const c of changes) expect(c).toMatchObject({ kind: "undecided", why: expect.stringContaining("no value declared in both") });
  });
});

describe("diff decisions on time windows", () => {
  it("finds an instant the wider window adds, in the reference week", () => {
    const changes = diff({ policy: rules(`{ time: ${berlin("09:00-17:00")} }`) }, { policy: rules(`{ time: ${berlin("09:00-18:00")} }`) });
    expect(changes.map((c) => c.kind)).toEqual(["widened"]);
    const at = (changes[0] as DecisionChange).witness.at!;
    // Monday 2027-01-04 17:00 in Berlin (CET, UTC+1).
    expect(at).toBe("2027-01-04T16:00:00.000Z");
  });

  it("reports nothing for identical windows", () => {
    const config = { policy: rules(`{ time: ${berlin("09:00-17:30")}, require_reason: true }`, `{ time: ${berlin("22:00-06:00", "[sat, sun]")} }`) };
    expect(diff(config, config)).toEqual([]);
  });

  it("negates a window: an instant outside it", () => {
    const changes = diff({ policy: rules(`{ time: ${berlin("09:00-17:00")} }`) }, { policy: rules("{}") });
    expect(changes.map((c) => c.kind)).toEqual(["widened"]);
    const at = Date.parse((changes[0] as DecisionChange).witness.at!);
    const minute = localMinuteOfWeek(at, "Europe/Berlin");
    expect(minute % 1440 < 9 * 60 || minute % 1440 >= 17 * 60 || minute >= 5 * 1440).toBe(true);
  });

  it("finds no change when the narrower window is inside a wider one on both sides", () => {
    const changes = diff({ policy: rules(`{ time: ${berlin("09:00-17:00")}, service: { equals: api } }`, `{ time: ${berlin("09:00-17:00")}, service: { not_in: [api] } }`) }, { policy: rules(`{ time: ${berlin("09:00-17:00")} }`) });
    expect(changes).toEqual([]);
  });

  it("is undecided, never a false answer, when the compared windows are in several zones", () => {
    const changes = diff({ policy: rules(`{ time: ${berlin("09:00-17:00")} }`) }, { policy: rules(`{ time: { days: [mon, tue, wed, thu, fri], between: "03:00-11:00", timezone: America/New_York } }`) });
    expect(changes.length).toBeGreaterThan(0);
    for (const c of changes as UndecidedChange[]) {
      expect(c.kind).toBe("undecided");
      expect(c.why).toContain("several time zones");
    }
  });

  it("reports nothing for the same rules with windows in several zones (a pure refactor: renamed, reordered)", () => {
    const ny = `{ days: [sat], between: "10:00-12:00", timezone: America/New_York }`;
    const a = rules(`{ time: ${berlin("09:00-17:00")} }`, `{ time: ${ny}, service: { equals: api } }`);
    const b = `policy: q\nagents: [ops]\nallow:\n  - tool: restart\n    when: { service: { equals: api }, time: ${ny} }\n  - tool: restart\n    when: { time: ${berlin("09:00-17:00")} }\n`;
    expect(diff({ policy: a }, { policy: b })).toEqual([]);
  });

  it("maps every minute of the reference week to an instant the runtime's clock reads back, in zones with DST", () => {
    for (const zone of ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]) {
      expect(referenceWeek(zone).ok).toBe(true);
      for (let minute = 0; minute < 7 * 1440; minute += 37) {
        const instant = instantOfMinute(zone, minute);
        expect(instant.ok).toBe(true);
        if (instant.ok) expect(localMinuteOfWeek(Date.parse(instant.at), zone)).toBe(minute);
      }
    }
  });
});

describe("diff decisions on no_credentials", () => {
  it("negates no_credentials with a credential-shaped string of the pattern set", () => {
    const changes = diff({ policy: rules("{ note: { no_credentials: true } }") }, { policy: rules("{}") });
    expect(changes.map((c) => c.kind)).toEqual(["widened"]);
    const note = (changes[0] as DecisionChange).witness.input.note as string;
    expect(credentialFound(note)).toBe(true);
  });

  it("reports nothing when both sides require no credentials", () => {
    const config = { policy: rules("{ note: { no_credentials: true }, tags: { no_credentials: true } }") };
    expect(diff(config, config)).toEqual([]);
  });

  it("negates no_credentials on a list with one item that holds a credential", () => {
    const changes = diff({ policy: rules("{ tags: { no_credentials: true } }") }, { policy: rules("{}") });
    expect(changes.map((c) => c.kind)).toEqual(["widened"]);
    const tags = (changes[0] as DecisionChange).witness.input.tags as string[];
    expect(tags.some(credentialFound)).toBe(true);
  });
});

describe("witnesses with context, instants and credentials replay through both configs", () => {
  it("gives no analyser bug and carries context and at in each format's witness", async () => {
    const root = mkdtempSync(join(tmpdir(), "kr-diffctx-"));
    const write = (side: string, policy: string) => {
      mkdirSync(join(root, side, "tools"), { recursive: true });
      mkdirSync(join(root, side, "policies"), { recursive: true });
      writeFileSync(join(root, side, "tools", "restart.yaml"), TOOL);
      writeFileSync(join(root, side, "policies", "p.yaml"), policy);
      writeFileSync(join(root, side, "context.yaml"), CONTEXT);
    };
    try {
      write("old", rules(`{ context.environment: { equals: production }, time: ${berlin("09:00-17:00")}, note: { no_credentials: true } }`));
      write("new", rules(`{ context.environment: { in: [production, staging] }, time: ${berlin("08:00-17:00")} }`));
      const result = await diffConfigs({ dir: join(root, "old") }, { dir: join(root, "new") });
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const changes = result.diff.changes;
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.filter((c) => c.kind === "undecided")).toEqual([]);
      const witnesses = changes.map((c) => (c as DecisionChange).witness);
      expect(witnesses.every((w) => w.context !== undefined && w.at !== undefined)).toBe(true);
      // One pair (OLD's default deny, NEW's rule): its witness is outside OLD's rule by one of its three conditions.
      expect(changes.map((c) => c.kind)).toEqual(["widened"]);
      const [w] = witnesses;
      const hour = Math.floor((localMinuteOfWeek(Date.parse(w!.at!), "Europe/Berlin") % 1440) / 60);
      expect(w!.context?.environment === "staging" || hour === 8 || credentialFound(String(w!.input.note))).toBe(true);
      for (const format of ["text", "json", "markdown"] as const) {
        const out = renderDiff(result.diff, format);
        expect(out).toContain(w!.at!);
        expect(out).toContain(`"environment":${format === "json" ? " " : ""}"${w!.context!.environment}"`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
