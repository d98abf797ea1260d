// The runtime as a library: what the bundle exports and what `keyrunner run`, `serve` and the SDK use.

import { AuditLog } from "./audit/audit-log.js";
import { Engine, type DenialDetail } from "./core/engine.js";
import { deploymentContext } from "./core/deployment-context.js";
import type { ExecuteRequest, Outcome } from "./core/outcome.js";
import type { Resolver } from "./egress/egress.js";
import { defaultStateDir } from "./cli/permission-model.js";
import { LocalStateStore, type LocalStateOptions } from "./state/local-state-store.js";
import { RedisStateStore } from "./state/redis-state-store.js";
import { loadSecrets, takeFromEnv } from "./credentials/secrets.js";
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
  /** Pending approvals per agent in the local state store (default 100). */
  maxPendingApprovals?: number;
  /** Told when the start waits for a server that still holds the audit's or the state's lock. */
  onLockWait?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  /** In process (`keyrunner run`, the SDK): start without the secrets of tools that are not called. */
  lenientSecrets?: boolean;
  resolver?: Resolver;
  /** `--context key=value` settings, checked against context.yaml (a ContextError stops the start). */
  context?: readonly string[];
  /** `keyrunner run`: require only the context keys this tool's rules test (a server requires every used key). */
  contextRequiredFor?: string;
  /**
   * In process (the SDK): start without the context keys policies test; a call to a tool whose rules test
   * one that was not given is answered `unavailable`, undecided and unexecuted (like a lenient secret).
   */
  lenientContext?: boolean;
  /** The decision clock (tests inject one; default Date.now). */
  clock?: () => number;
  /** `--denial-detail`: what a request no rule allows is told (default "conditions"). */
  denialDetail?: DenialDetail;
}

export interface Runtime {
  readonly engine: Engine;
  execute(request: ExecuteRequest): Promise<Outcome>;
  /** The decision and the rule, without executing or auditing. */
  explain(request: ExecuteRequest): Explanation;
  close(): Promise<void>;
}

export async function openStateStore(location: string, options: LocalStateOptions = {}): Promise<StateStore> {
  const log = (line: string) => void process.stderr.write(`keyrunner: ${line}\n`);
  return isRedisUrl(location) ? new RedisStateStore(location, { log }) : LocalStateStore.open(location, options);
}

/**
 * Loads the secrets, then takes the audit file's lock and the state folder's (each waits, bounded, for a
 * server that is shutting down) and opens them. close() releases both; nothing is written after.
 */
export async function createRuntime(config: CompiledConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const env = options.env ?? process.env;
  // Checked before any file is opened: a wrong context stops the start with nothing held.
  const context = deploymentContext(
    config,
    options.context ?? [],
    options.lenientContext === true ? { requireUsed: false } : options.contextRequiredFor === undefined ? {} : { requireFor: options.contextRequiredFor },
  );
  const secrets = loadSecrets(config.secrets, { env, file: options.secretsFile, lenient: options.lenientSecrets === true });
  const keyFromEnv = takeFromEnv(env, "KEYRUNNER_AUDIT_KEY");
  const auditKey = options.auditKey ?? keyFromEnv;
  const auditFile = options.auditFile ?? "keyrunner-audit.jsonl";
  const onWait = options.onLockWait;
  const audit = await AuditLog.acquire(auditFile, auditKey, { commitDelayMs: options.auditCommitDelayMs, ...(onWait ? { onWait } : {}) });
  let state: StateStore;
  try {
    state = await openStateStore(options.state ?? defaultStateDir(auditFile), { maxPendingApprovals: options.maxPendingApprovals, ...(onWait ? { onWait } : {}) });
  } catch (error) {
    await audit.close();
    throw error;
  }
  // The state closes once, whether the engine or the runtime closes it first.
  let stateClosed: Promise<void> | undefined;
  const closeState = () => (stateClosed ??= state.close());
  const store: StateStore = {
    reserve: (reservations, nowMs) => state.reserve(reservations, nowMs),
    createApproval: (approval) => state.createApproval(approval),
    getApproval: (id) => state.getApproval(id),
    transitionApproval: (id, from, to, fields) => state.transitionApproval(id, from, to, fields),
    listApprovals: () => state.listApprovals(),
    close: closeState,
  };
  const engine = new Engine({
    config,
    secrets,
    audit,
    state: store,
    context,
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.denialDetail ? { denialDetail: options.denialDetail } : {}),
  });
  const clock = options.clock ?? Date.now;
  return {
    engine,
    execute: (request) => engine.execute(request),
    explain: (request) => explainRequest(config, request, { context, now: clock() }),
    /**
     * The state and the audit first: their locks are released, and every later write is refused, before
     * the upstream connections close (which waits for requests still in flight).
     */
    async close() {
      await closeState();
      await audit.close();
      await engine.close();
    },
  };
}
