// The KeyRunner SDK. In process: compiles tools and policies with the same compiler and runs the same
// generated code as the bundle. As a client: talks to a running bundle. Both return SPEC section 5's shapes.

import { renderHuman, type Diagnostic } from "../compiler/index.js";
import { outcomeBody, type ExecuteBody } from "../runtime-template/core/outcome.js";
import { listTools, renderAnthropic } from "../runtime-template/core/tool-listing.js";
import type { Runtime } from "../runtime-template/runtime.js";

export type { ExecuteBody as ExecuteResult } from "../runtime-template/core/outcome.js";
export type { Diagnostic, WitnessRequest } from "../compiler/index.js";

export interface ExecuteRequest {
  agent?: string;
  tool: string;
  input: Record<string, unknown>;
  reason?: string;
  /** The approval_id of a request a person approved: re-send the identical request with it. */
  approval_id?: string;
}

export interface InProcessOptions {
  /** Folder of tool YAML files. */
  tools: string;
  /** Folder of policy YAML files. */
  policies: string;
  /** Audit JSON Lines file (default ./keyrunner-audit.jsonl). */
  auditFile?: string;
  /** NAME=value lines; default: the environment. Secrets are removed from process.env once read. */
  secretsFile?: string;
  /** Agent used when a request names none. */
  agent?: string;
  /**
   * The deployment context (context.yaml's keys), as `serve --context key=value` sets it. A call to a tool
   * whose rules test a key not given here is answered `unavailable` (nothing decided or executed).
   */
  context?: Record<string, string>;
}

export interface ClientOptions {
  /** Base URL of a running bundle, e.g. http://127.0.0.1:8787. */
  url: string;
  /** The agent's bearer token (omit against a loopback server without an agents file). */
  token?: string;
  agent?: string;
}

export interface ToolDescription {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export class KeyRunnerConfigError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>) {
    super(`the tool and policy config does not compile:\n${renderHuman(diagnostics, sources)}`);
  }
}

export class KeyRunner {
  #runtime: Promise<Runtime> | undefined;

  constructor(private readonly options: InProcessOptions | ClientOptions) {}

  async execute(request: ExecuteRequest): Promise<ExecuteBody> {
    const agent = request.agent ?? this.options.agent;
    if ("url" in this.options) {
      const response = await fetch(new URL("/v1/execute", this.options.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
        body: JSON.stringify({ ...request, ...(agent === undefined ? {} : { agent }) }),
      });
      return (await response.json()) as ExecuteBody;
    }
    if (agent === undefined) throw new TypeError("execute() needs an agent: pass `agent` in the request or the constructor");
    const runtime = await this.#inProcess(this.options);
    const { agent: _agent, ...rest } = request;
    return outcomeBody(await runtime.execute({ ...rest, agent }));
  }

  /** The tools this agent may call, with JSON Schema input (Anthropic's tool shape). */
  async tools(agent?: string): Promise<ToolDescription[]> {
    const name = agent ?? this.options.agent;
    if ("url" in this.options) {
      const url = new URL("/v1/tools", this.options.url);
      if (name !== undefined) url.searchParams.set("agent", name);
      const response = await fetch(url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
      return ((await response.json()) as { tools: ToolDescription[] }).tools;
    }
    const runtime = await this.#inProcess(this.options);
    return renderAnthropic(listTools(runtime.engine.visibleTools(name ?? "")));
  }

  async close(): Promise<void> {
    if (this.#runtime !== undefined) await (await this.#runtime).close();
  }

  #inProcess(options: InProcessOptions): Promise<Runtime> {
    this.#runtime ??= (async () => {
      const { loadCompiled } = await import("../compiler/runtime-commands.js");
      const loaded = await loadCompiled({ dir: ".", tools: options.tools, policies: options.policies });
      if (loaded.bundle === undefined) throw new KeyRunnerConfigError(loaded.check.diagnostics.filter((d) => d.severity === "error"), loaded.check.sources);
      return loaded.bundle.createRuntime(loaded.bundle.config, {
        lenientSecrets: true,
        lenientContext: true,
        ...(options.context ? { context: Object.entries(options.context).map(([key, value]) => `${key}=${value}`) } : {}),
        ...(options.auditFile ? { auditFile: options.auditFile } : {}),
        ...(options.secretsFile ? { secretsFile: options.secretsFile } : {}),
      });
    })();
    return this.#runtime;
  }
}
