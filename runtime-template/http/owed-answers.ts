// The answers each connection still owes, oldest first: read by the rule for bytes that fail to parse
// (client-errors.ts) and by the drain (cli/serve.ts). Kept by the request handler every server shares
// (pipelining.ts: `owe` as a request comes, `forgetOwed` as its answer closes), in the close listener it has
// anyway, rather than by a second 'request' listener and a closure per request.
//
// One array per connection, found through a WeakMap written once per connection — not a Set or Map of
// responses that every request adds to and deletes from. Such churn on a long-lived collection made V8
// promote nearly every request's objects (request, response, headers, closures) out of the young
// generation: at 64 clients, 1.5-3 MB promoted per scavenge and scavenges of 7-15 ms, against none and
// ~1.5 ms with the arrays (`--trace-gc-nvp`; docs/performance.md, "The promotion leak").

import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

const owedByConnection = new WeakMap<Duplex, ServerResponse[]>();
const NONE: readonly ServerResponse[] = Object.freeze([]);

/** A request handed in on this connection: its answer is owed until it closes (pipelining.ts calls it for every request). */
export function owe(socket: Duplex, res: ServerResponse): void {
  let owed = owedByConnection.get(socket);
  if (owed === undefined) owedByConnection.set(socket, (owed = []));
  owed.push(res);
}

/** The answers this connection still owes, oldest first (none for a connection never tracked). */
export function owedAnswers(socket: Duplex): readonly ServerResponse[] {
  return owedByConnection.get(socket) ?? NONE;
}

/** An answer this connection no longer owes: it closed (answers close in order, so it is almost always the first), or its request never ran and is never answered (the drain). */
export function forgetOwed(socket: Duplex, res: ServerResponse): void {
  const owed = owedByConnection.get(socket);
  const at = owed === undefined ? -1 : owed.indexOf(res);
  if (at !== -1) owed!.splice(at, 1);
}
