// What every route handler is given: the engine, how callers are identified, the body limit.

import type { Principal } from "../credentials/agents-file.js";
import type { Engine } from "../core/engine.js";

export interface RouteContext {
  readonly engine: Engine;
  /** Present: bearer tokens identify agents. Absent: trusted loopback mode, the request names the agent. */
  readonly principals: readonly Principal[] | undefined;
  readonly bodyLimitBytes: number;
}
