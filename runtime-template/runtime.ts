// The runtime as a library: what the bundle exports and what `keyrunner run`, `serve` and the SDK use.

import { AuditLog } from "./audit/audit-log.js";
import { Engine, type ExecuteRequest, type ExecuteResponse } from "./core/engine.js";
import type { Resolver } from "./egress/egress.js";
import { defaultStateDir } from "./cli/permission-model.js";
import { LocalStateStore } from "./state/local-state-store.js";
import { RedisStateStore } from "./state/redis-state-store.js";
import { loadSecrets } from "./credentials/secrets.js";
import { isRedisUrl, type StateStore } from "./state/state-store.js";
import { explainRequest, type Explanation } from "./core/explain.js";
import type { CompiledConfig } from "./contract/tool-module.js";

export interface RuntimeOptions {
  /** Where the audit JSON Lines go (default ./keyrunner-audit.jsonl). */
  auditFile?: string;
  /** HMAC key for the audit chain (default: KEYRUNNER_AUDIT_KEY). */
  auditKey?: string;
  /** How long a durable audit write may wait for other in-flight requests' records (default 0: never). */
  auditCommitDelayMs?: number;
  secretsFile?: string;
  /** Obligation state: a directory (default: keyrunner-state/ beside the audit file) or redis://HOST:PORT. */
  state?: string;
  env?: NodeJS.ProcessEnv;
  resolver?: Resolver;
}

export interface Runtime {
  readonly engine: Engine;
  execute(request: ExecuteRequest): Promise<ExecuteResponse>;
  /** The decision and the rule, without executing or auditing. */
  explain(request: ExecuteRequest): Explanation;
  close(): Promise<void>;
}

export function openStateStore(location: string): StateStore {
  const log = (line: string) => void process.stderr.write(`keyrunner: ${line}\n`);
  return isRedisUrl(location) ? new RedisStateStore(location, { log }) : new LocalStateStore(location);
}

export function createRuntime(config: CompiledConfig, options: RuntimeOptions = {}): Runtime {
  const env = options.env ?? process.env;
  const secrets = loadSecrets(config.secrets, { env, file: options.secretsFile });
  const auditKey = options.auditKey ?? env.KEYRUNNER_AUDIT_KEY;
  delete env.KEYRUNNER_AUDIT_KEY;
  const auditFile = options.auditFile ?? "keyrunner-audit.jsonl";
  const state = openStateStore(options.state ?? defaultStateDir(auditFile));
  const audit = AuditLog.open(auditFile, auditKey, { commitDelayMs: options.auditCommitDelayMs });
  const engine = new Engine({ config, secrets, audit, state, ...(options.resolver ? { resolver: options.resolver } : {}) });
  return {
    engine,
    execute: (request) => engine.execute(request),
    explain: (request) => explainRequest(config, request),
    async close() {
      await engine.close();
      await audit.close();
    },
  };
}
