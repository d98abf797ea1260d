// Outbound HTTP through undici's request API (never fetch). Each tool may reach only its own origin,
// method and path pattern. The address is checked at connect time, on what DNS returned, and the
// socket connects to exactly the checked address (the lookup hook is the only lookup). IP-literal
// hosts are checked before connecting. Redirects are never followed.

import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { Agent } from "undici";

/** undici is loaded on the first outbound request, not at start-up (its import costs ~80 ms here). */
let undici: Promise<typeof import("undici")> | undefined;
const loadUndici = () => (undici ??= import("undici"));
import { classifyAddress, isIpLiteral } from "./ip-address.js";
import type { EgressBinding, HttpRequestPlan } from "./tool-module.js";

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
      const { Agent: UndiciAgent } = await loadUndici();
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

  async send(plan: HttpRequestPlan, binding: EgressBinding): Promise<UpstreamResponse> {
    if (plan.origin !== binding.origin || plan.method !== binding.method || !binding.path.test(plan.path)) {
      throw new EgressRefused("request outside the tool's origin, method or path");
    }
    const { hostname } = new URL(plan.origin);
    if (isIpLiteral(hostname) && !addressAllowed(hostname.replace(/^\[|\]$/g, ""), hostname)) {
      throw new EgressRefused(`address ${hostname} is not allowed`);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of plan.headers) headers[name] = value;
    if (plan.body !== undefined) headers["content-type"] = plan.body.contentType;
    try {
      // origin and path are given separately and the path is sent as built: no URL parser
      // re-normalises it on the way out.
      const response = await (await this.#agentFor(binding)).request({
        origin: plan.origin,
        path: `${plan.path}${plan.query === "" ? "" : `?${plan.query}`}`,
        method: plan.method as "POST",
        headers,
        body: plan.body?.text ?? null,
        headersTimeout: plan.timeoutMs,
        bodyTimeout: plan.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > plan.maxResponseBytes) {
          response.body.destroy();
          throw new ResponseTooLarge(`response larger than ${plan.maxResponseBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
    } catch (error) {
      if (error instanceof ResponseTooLarge || error instanceof EgressRefused) throw error;
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof EgressRefused) throw cause;
      const { errors: undiciErrors } = await loadUndici();
      if (
        error instanceof undiciErrors.HeadersTimeoutError ||
        error instanceof undiciErrors.BodyTimeoutError ||
        (error as Error).name === "TimeoutError" ||
        (error as Error).name === "AbortError"
      ) {
        throw new UpstreamTimeout("upstream did not answer in time");
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
  }
}
