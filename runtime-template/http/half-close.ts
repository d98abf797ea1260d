// A half-closed connection is still answered.

import type { Server } from "node:http";

/**
 * A client that ends its side of the connection after its requests (a half-close: `printf … | nc`,
 * `socket.end(requests)`) still gets their answers, and the connection closes after the last. Node's
 * default ends the server's side too as soon as it reads the client's end, so a request already running
 * — its upstream called, its records written — was never answered. `httpAllowHalfOpen` is the HTTP
 * server's own switch for this: the last answer owed closes the connection (with nothing owed it closes
 * at once). A client that closed entirely is found out at the first answer written to it, and whatever
 * waits behind then never runs.
 */
export function answerAfterHalfClose(server: Server): void {
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}
