// Outbound HTTP through undici's dispatcher (never fetch). Each tool may reach only its own origin,
// method and path pattern. The address is checked at connect time, on what DNS returned, and the
// socket connects to exactly the checked address (the lookup hook is the only lookup). IP-literal
// hosts are checked before connecting. Redirects are never followed.
/// <reference path="./undici-agent.d.ts" />

import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { Agent, Dispatcher } from "undici";
import { classifyAddress, isIpLiteral } from "./ip-address.js";
import { ACCEPT_ENCODING, DECODABLE_ENCODINGS } from "../core/upstream-body.js";
import type { EgressBinding, HttpRequestPlan } from "../contract/tool-module.js";

/**
 * Only undici's Agent is used, loaded on the first outbound request: importing it alone, not the
 * package index (fetch, WebSocket, caches, mocks), keeps ~600 KB out of the bundle and ~80 ms out of
 * start-up. Requests go through `dispatch` with a handler that collects the body: no stream per response.
 */
let agentClass: Promise<typeof Agent> | undefined;
const loadAgentClass = () => (agentClass ??= import("undici/lib/dispatcher/agent.js").then((m) => m.default));
/** undici's timeout errors, by their stable codes. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

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
  readonly #agents = new Map<string, Agent>();
  constructor(private readonly resolver: Resolver = systemResolver) {}

  async #agentFor(binding: EgressBinding): Promise<Agent> {
    let agent = this.#agents.get(binding.origin);
    if (agent === undefined) {
      const host = new URL(binding.origin).hostname;
      const resolver = this.resolver;
      const UndiciAgent = await loadAgentClass();
      agent = new UndiciAgent({
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
    for (const [name, value] of plan.headers) if (name.toLowerCase() !== "accept-encoding") headers[name] = value;
    // Only codings the runtime can decode, and so inspect, are asked for (no header would mean "any").
    headers["accept-encoding"] = acceptEncoding(plan.headers.find(([name]) => name.toLowerCase() === "accept-encoding")?.[1]);
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
function exchange(agent: Agent, options: Dispatcher.DispatchOptions, maxBytes: number, timeoutMs: number): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let headers: UpstreamResponse["headers"] = {};
    let abort: ((reason: Error) => void) | undefined;
    const deadline = setTimeout(() => {
      const late = new UpstreamTimeout(`upstream did not finish within ${timeoutMs} ms`);
      if (abort !== undefined) abort(late);
      reject(late);
    }, timeoutMs);
    const settle = <T>(done: (value: T) => void) => (value: T) => {
      clearTimeout(deadline);
      done(value);
    };
    resolve = settle(resolve);
    reject = settle(reject);
    const handler: Dispatcher.DispatchHandler = {
      // Present so that undici treats this as a handler of its current API.
      onRequestStart(controller) {
        abort = (reason) => controller.abort(reason);
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(controller, chunk) {
        size += chunk.length;
        if (size > maxBytes) return controller.abort(new ResponseTooLarge(`response larger than ${maxBytes} bytes`));
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    };
    try {
      agent.dispatch(options, handler);
    } catch (error) {
      reject(error);
    }
  });
}
