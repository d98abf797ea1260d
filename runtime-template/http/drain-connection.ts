// The drain, for one busy connection: what runs is answered, what waits never runs, and the connection
// closes after the last answer. Shared by the server (cli/serve.ts) and the tunnels (tunnel-server.ts).

import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { forgetOwed, owedAnswers } from "./owed-answers.js";
import { dropWaiting } from "./pipelining.js";

/**
 * Only the newest answer says `Connection: close`: an earlier one would close the connection under the
 * answers pipelined behind it, whose requests already run. Requests still waiting their turn
 * (pipelining.ts) never start: they are never answered, so the client sees the connection close after the
 * last request that ran and knows the rest did not (RFC 9112's unanswered pipelined requests); starting
 * them would only race the drain's timeout. A connection put in `closing` runs nothing parsed after that.
 */
export function closeAfterRunning(socket: Duplex, closing: WeakSet<object>): void {
  const dropped = dropWaiting(socket as Socket);
  for (const res of dropped) forgetOwed(socket, res);
  const newest = owedAnswers(socket).at(-1);
  if (newest === undefined) return;
  if (!newest.headersSent) {
    newest.setHeader("connection", "close");
    closing.add(socket);
    return;
  }
  // Its headers are out. With nothing dropped, a request that still arrives is answered and closes the
  // connection (the callers' rule for requests read while draining); otherwise it ends after this answer.
  if (dropped.length === 0) return;
  closing.add(socket);
  if (newest.writableFinished) socket.end();
  else newest.once("finish", () => socket.end());
}
