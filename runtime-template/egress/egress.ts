// Outbound HTTP through undici's dispatcher (never fetch). Each tool may reach only its own origin,
// method and path pattern. The address is checked at connect time, on what DNS returned, and the
// socket connects to exactly the checked address (the lookup hook is the only lookup). IP-literal
// hosts are checked before connecting. Redirects are never followed.
/// <reference path="./undici-agent.d.ts" />

import type { LookupAddress } from "node:dns";
import type { Dispatcher, Pool } from "undici";
import { classifyAddress, isIpLiteral } from "./ip-address.js";
import { ACCEPT_ENCODING, DECODABLE_ENCODINGS } from "../core/upstream-body.js";
import type { EgressBinding, HttpRequestPlan } from "../contract/tool-module.js";

/**
 * Only undici's Pool is used (one per tool origin: an Agent in front of it would only look the origin
 * up again on every request), loaded on the first outbound request: importing it alone, not the
 * package index (fetch, WebSocket, caches, mocks), keeps ~600 KB out of the bundle and ~80 ms out of
 * start-up. Requests go through `dispatch` with a handler that collects the body: no stream per response.
 */
let poolClass: Promise<typeof Pool> | undefined;
const loadPoolClass = () => (poolClass ??= import("undici/lib/dispatcher/pool.js").then((m) => m.default));

/** Loads undici (in the bundle: compiles its chunk) ahead of the first outbound call; `serve` does it once ready. */
export function preloadEgress(): void {
  void loadPoolClass();
}
/** undici's timeout errors, by their stable codes. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** The system's resolver; node:dns is loaded by the first name looked up, not at start-up. */
export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => process.getBuiltinModule("node:dns").lookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

export class EgressRefused extends Error {}
export class UpstreamTimeout extends Error {}
export class ResponseTooLarge extends Error {}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A tool's own Accept-Encoding narrowed to the decodable codings; without one, all of those. */
export function acceptEncoding(requested: string | undefined): string {
  if (requested === undefined) return ACCEPT_ENCODING;
  const kept = requested.split(",").map((c) => c.trim()).filter((c) => (DECODABLE_ENCODINGS as readonly string[]).includes(c.split(";")[0]!.trim().toLowerCase()));
  return kept.length === 0 ? "identity" : kept.join(", ");
}

/** Internal ranges are reachable only by a tool whose own origin names such a host literally. */
function originAllowsInternal(hostname: string): boolean {
  return isIpLiteral(hostname) || hostname === "localhost";
}

export function addressAllowed(address: string, originHost: string): boolean {
  const kind = classifyAddress(address);
  if (kind === "public") return true;
  if (!originAllowsInternal(originHost)) return false;
  if (originHost === "localhost") return kind === "loopback";
  return true;
}

export class Egress {
  /** One connection pool per tool origin, each connecting only through the checked lookup. */
  readonly #agents = new Map<string, Pool>();
  constructor(private readonly resolver: Resolver = systemResolver) {}

  async #agentFor(binding: EgressBinding): Promise<Pool> {
    let agent = this.#agents.get(binding.origin);
    if (agent === undefined) {
      const host = new URL(binding.origin).hostname;
      const resolver = this.resolver;
      const UndiciPool = await loadPoolClass();
      // Another request may have made the origin's pool while the class loaded.
      const made = this.#agents.get(binding.origin);
      if (made !== undefined) return made;
      agent = new UndiciPool(binding.origin, {
        connect: {
          lookup(hostname: string, options: { all?: boolean }, callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void) {
            resolver(hostname).then(
              (addresses) => {
                const allowed = addresses.filter((a) => addressAllowed(a.address, host));
                if (allowed.length === 0) return callback(new EgressRefused(`no allowed address for ${hostname}`), "");
                if (options.all) callback(null, allowed);
                else callback(null, allowed[0]!.address, allowed[0]!.family);
              },
              (error: Error) => callback(error, ""),
            );
          },
        } as never,
        keepAliveTimeout: 10_000,
        connections: 256,
      });
      this.#agents.set(binding.origin, agent);
    }
    return agent;
  }

  /** Per origin: the refusal for an IP-literal host outside the allowed ranges, decided once. */
  readonly #literalRefusals = new Map<string, string | undefined>();

  #literalRefusal(origin: string): string | undefined {
    if (this.#literalRefusals.has(origin)) return this.#literalRefusals.get(origin);
    const { hostname } = new URL(origin);
    const refusal = isIpLiteral(hostname) && !addressAllowed(hostname.replace(/^\[|\]$/g, ""), hostname) ? `address ${hostname} is not allowed` : undefined;
    this.#literalRefusals.set(origin, refusal);
    return refusal;
  }

  async send(plan: HttpRequestPlan, binding: EgressBinding): Promise<UpstreamResponse> {
    if (plan.origin !== binding.origin || plan.method !== binding.method || !binding.path.test(plan.path)) {
      throw new EgressRefused("request outside the tool's origin, method or path");
    }
    const refusal = this.#literalRefusal(plan.origin);
    if (refusal !== undefined) throw new EgressRefused(refusal);
    const headers: Record<string, string> = {};
    let requested: string | undefined;
    for (const [name, value] of plan.headers) {
      if (name.toLowerCase() === "accept-encoding") requested ??= value;
      else headers[name] = value;
    }
    // Only codings the runtime can decode, and so inspect, are asked for (no header would mean "any").
    headers["accept-encoding"] = acceptEncoding(requested);
    if (plan.body !== undefined) headers["content-type"] = plan.body.contentType;
    try {
      // origin and path are given separately and the path is sent as built: no URL parser
      // re-normalises it on the way out.
      const agent = this.#agents.get(binding.origin) ?? (await this.#agentFor(binding));
      return await exchange(
        agent,
        {
          origin: plan.origin,
          path: plan.query === "" ? plan.path : `${plan.path}?${plan.query}`,
          method: plan.method as Dispatcher.HttpMethod,
          headers,
          body: plan.body?.text ?? null,
          headersTimeout: plan.timeoutMs,
          bodyTimeout: plan.timeoutMs,
        },
        plan.maxResponseBytes,
        plan.timeoutMs,
      );
    } catch (error) {
      if (error instanceof ResponseTooLarge || error instanceof EgressRefused || error instanceof UpstreamTimeout) throw error;
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof EgressRefused) throw cause;
      const { code, name } = error as { code?: string; name?: string };
      if ((code !== undefined && TIMEOUT_CODES.has(code)) || name === "TimeoutError" || name === "AbortError") {
        throw new UpstreamTimeout("upstream did not answer in time");
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
  }
}

/**
 * One request and its whole response, or ResponseTooLarge as soon as the body passes the cap (the rest is
 * not read). `timeoutMs` bounds the whole exchange, not each wait: undici's header and body timeouts reset
 * on every byte, so an upstream dripping one byte a second would otherwise hold the request for ever.
 */
function exchange(agent: Pool, options: Dispatcher.DispatchOptions, maxBytes: number, timeoutMs: number): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const handler = new Exchange(resolve, reject, maxBytes, timeoutMs);
    try {
      agent.dispatch(options, handler);
    } catch (error) {
      handler.fail(error as Error);
    }
  });
}

/**
 * undici's handler for one exchange, collecting the body: one object whose methods are on its prototype,
 * rather than a handler and a closure per callback for every request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  #chunks: Buffer[] = [];
  #size = 0;
  #status = 0;
  #headers: UpstreamResponse["headers"] = {};
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  readonly #deadline: NodeJS.Timeout;

  constructor(
    private readonly resolve: (response: UpstreamResponse) => void,
    private readonly reject: (error: Error) => void,
    private readonly maxBytes: number,
    timeoutMs: number,
  ) {
    this.#deadline = setTimeout(Exchange.#late, timeoutMs, this, timeoutMs);
  }

  static #late(exchange: Exchange, timeoutMs: number): void {
    const late = new UpstreamTimeout(`upstream did not finish within ${timeoutMs} ms`);
    exchange.#controller?.abort(late);
    exchange.fail(late);
  }

  fail(error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#deadline);
    this.reject(error);
  }

  // Present so that undici treats this as a handler of its current API.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: UpstreamResponse["headers"]): void {
    this.#status = statusCode;
    this.#headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.maxBytes) return controller.abort(new ResponseTooLarge(`response larger than ${this.maxBytes} bytes`));
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#deadline);
    const chunks = this.#chunks;
    this.resolve({ status: this.#status, headers: this.#headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }
}
