// A malformed request on a connection that still owes an answer — bytes pipelined after a request, or sent
// after one that asked `Connection: close` — must not cost that answer. Node's default writes a bare 400
// and destroys the socket at once, though the request before it is already deciding or executing: the
// agent would see a 400 without an audit id for a request that ran. Here the parse error only stops the
// reading; the answers in flight are written, then the connection closes. With nothing in flight the
// client gets Node's own answer (400, 408 or 431) and the connection closes, as before.

import { STATUS_CODES, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import { owedAnswers } from "./owed-answers.js";
import { stopReading } from "./pipelining.js";

function statusFor(error: NodeJS.ErrnoException): number {
  if (error.code === "HPE_HEADER_OVERFLOW") return 431;
  if (error.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return 413;
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

/** The connection closes once its last owed answer is written (owed-answers removes each as it closes, first). */
function closeWhenAnswered(socket: Duplex, owed: readonly ServerResponse[]): void {
  for (const res of owed) res.once("close", () => owedAnswers(socket).length === 0 && socket.end());
}

export function keepAnswersOnClientError(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const owed = owedAnswers(socket);
    // Every request owed an answer was read whole: the error is in bytes after them. Nothing more is read
    // from this connection; the answers are still written, then it closes.
    if (owed.length > 0 && owed.every((res) => res.req.complete)) {
      closeWhenAnswered(socket, owed);
      stopReading(socket as Socket);
      return;
    }
    // Otherwise (a request cut off mid-body, a timeout, nothing in flight): as Node answers by default, an
    // error status unless an answer has begun, and the connection closes.
    const answering = owed.some((res) => res.headersSent);
    if (error.code === "ECONNRESET" || !socket.writable || answering) return void socket.destroy();
    const status = statusFor(error);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
  });
}
