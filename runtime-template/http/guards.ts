// No web page can drive the gateway. A browser sends the page's Origin, and a DNS-rebinding page sends its
// own name as Host: a request whose Host is not a name or address this server answers on, or whose Origin is
// not this server's own, is refused on every route before anything else runs. Forward-proxy requests
// (absolute-form targets, which browsers never send) carry the upstream's Host, so only Origin applies.

import type { IncomingMessage } from "node:http";
import { HttpError } from "./respond.js";

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"];
const WILDCARDS = new Set(["0.0.0.0", "::", ""]);

/** The names and addresses a server listening on `host` answers on, plus those the operator adds. */
export function answeringHosts(host: string, extra: readonly string[] = []): Set<string> {
  const hosts = new Set(LOOPBACK_NAMES);
  if (WILDCARDS.has(host)) {
    for (const list of Object.values(process.getBuiltinModule("node:os").networkInterfaces())) for (const entry of list ?? []) hosts.add(entry.address.toLowerCase());
  } else hosts.add(bareHost(host));
  for (const name of extra) hosts.add(bareHost(name));
  return hosts;
}

/** A host name as compared here: lower case, without IPv6 brackets or one trailing dot. */
function bareHost(name: string): string {
  const lower = name.toLowerCase();
  const unbracketed = lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
  return unbracketed.endsWith(".") ? unbracketed.slice(0, -1) : unbracketed;
}

/**
 * Host values seen, with their host names: a client sends the same Host on every request, and parsing it
 * as a URL each time was ~2 % of a request's CPU. Bounded: past HOST_MEMO_SIZE values (a client sending
 * ever new ones) it starts over.
 */
const HOST_MEMO_SIZE = 256;
const hostMemo = new Map<string, string | undefined>();

/** The host name of a Host header or an origin's authority, or undefined when it does not parse. */
function hostnameOf(authority: string): string | undefined {
  if (hostMemo.has(authority)) return hostMemo.get(authority);
  const name = parsedHostname(authority);
  if (hostMemo.size >= HOST_MEMO_SIZE) hostMemo.clear();
  hostMemo.set(authority, name);
  return name;
}

function parsedHostname(authority: string): string | undefined {
  try {
    const url = new URL(`http://${authority}`);
    if (url.username !== "" || url.password !== "" || url.pathname !== "/" || url.search !== "" || url.hash !== "") return undefined;
    return bareHost(url.hostname);
  } catch {
    return undefined;
  }
}

function hostHeaders(req: IncomingMessage): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.length === 4 && req.rawHeaders[i]!.toLowerCase() === "host") count++;
  return count;
}

const refused = (message: string) => new HttpError(403, { status: "forbidden", message });

/** Why this request must be refused, or undefined when it may go on. */
export function guardRefusal(req: IncomingMessage, allowedHosts: ReadonlySet<string>, forwardRequest: boolean): HttpError | undefined {
  const host = req.headers.host;
  // Node keeps the first of several Host headers; a request that sends two is refused rather than guessed at.
  if (hostHeaders(req) > 1) return refused("a request must carry one Host header");
  if (!forwardRequest) {
    const name = host === undefined ? undefined : hostnameOf(host);
    if (name === undefined || !allowedHosts.has(name)) return refused("this server does not answer to that Host (see serve --allowed-host)");
  }
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return refused("requests from web pages are refused");
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Same-origin is the only origin allowed: the page would have to be served by this server, which serves none.
    const match = /^https?:\/\/([^/]+)$/i.exec(origin);
    if (match === null || forwardRequest || host === undefined || match[1]!.toLowerCase() !== host.toLowerCase()) return refused("requests from web pages are refused");
  }
  return undefined;
}
