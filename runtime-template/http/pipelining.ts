// Pipelined requests take turns. A client may send request after request on one connection without
// waiting for answers, and Node's HTTP server hands each to its handler as soon as it is parsed: 30,000
// requests written at once on one socket (8 MB) were 30,000 executions in flight, each with its decision
// record, and 360 MB of memory. Here at most PIPELINED_IN_FLIGHT requests of one connection run at a time;
// the others wait, in order, and while any waits the connection is not read, so TCP holds the rest of what
// the client sends in its own buffers (what nginx does by answering pipelined requests one at a time).
//
// The pause is Node's own: `socket._paused`, which its HTTP server sets when the answers back up, keeps it
// from resuming the socket when a request's body is read, and makes it pause the parser once the bytes
// already read are parsed (so a request parsed from them waits here; none is lost). Node also lifts that
// pause on its own, when answers that backed up drain (its 'drain' listener resumes any socket it finds
// paused); this module's listener runs after Node's and pauses it again while requests wait, or it would
// read one more buffer of requests into the queue at every drain. One record per connection, found
// through a WeakMap written once per connection (http/owed-answers.ts says why).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { forgetOwed, owe } from "./owed-answers.js";

/** Requests of one connection that run at once; the rest wait their turn. */
export const PIPELINED_IN_FLIGHT = 8;

/** A socket as Node's HTTP server sees it: its `_paused` flag and its parser. */
type ServedSocket = Socket & { _paused?: boolean; parser?: { pause(): void; resume(): void } | null };

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Turns {
  running: number;
  /** Requests parsed while PIPELINED_IN_FLIGHT ran, oldest first, with the handler each waits for. */
  waiting: Array<readonly [IncomingMessage, ServerResponse, Handler]>;
  /** This module paused the connection (and resumes it when nothing waits). */
  paused: boolean;
  /** Nothing more is read from this connection, ever (a parse error: client-errors.ts). */
  stopped: boolean;
}

const turnsBySocket = new WeakMap<Socket, Turns>();

function turnsOf(socket: Socket): Turns {
  let turns = turnsBySocket.get(socket);
  if (turns === undefined) {
    turnsBySocket.set(socket, (turns = { running: 0, waiting: [], paused: false, stopped: false }));
    socket.on("drain", keepPaused);
  }
  return turns;
}

/** After Node's own 'drain' listener: a connection this module paused, or stopped, stays unread. */
function keepPaused(this: ServedSocket): void {
  const turns = turnsBySocket.get(this);
  if (turns === undefined || !(turns.paused || turns.stopped) || this._paused === true) return;
  this._paused = true;
  this.parser?.pause();
  this.pause();
}

/** Hands the request to `handle` now, or once fewer than PIPELINED_IN_FLIGHT requests of its connection are unanswered. */
export function inTurn(req: IncomingMessage, res: ServerResponse, handle: Handler): void {
  const socket = req.socket as ServedSocket;
  const turns = turnsOf(socket);
  owe(socket, res);
  // `on`, not `once`: a response closes once, and once() wraps each listener in a closure of its own.
  res.on("close", answered);
  if (turns.running < PIPELINED_IN_FLIGHT) {
    turns.running++;
    return handle(req, res);
  }
  turns.waiting.push([req, res, handle]);
  if (!turns.paused) {
    turns.paused = true;
    socket._paused = true;
    socket.pause();
  }
}

/** A response closed (answered, or its connection gone): it is no longer owed, and the next waiting request of its connection runs. */
function answered(this: ServerResponse): void {
  const socket = this.req.socket as ServedSocket;
  forgetOwed(socket, this);
  const turns = turnsBySocket.get(socket);
  if (turns === undefined) return;
  turns.running--;
  // A connection that is gone, or that the server ended (an answer closed it), runs nothing more: what
  // waited was never started, so nothing of it ran, and no answer could reach its client.
  if (socket.destroyed || socket.writableEnded) {
    turns.waiting.length = 0;
    return;
  }
  const next = turns.waiting.shift();
  if (next !== undefined) {
    turns.running++;
    next[2](next[0], next[1]);
  }
  if (turns.waiting.length === 0 && turns.paused) resume(socket, turns);
}

function resume(socket: ServedSocket, turns: Turns): void {
  turns.paused = false;
  // Node resumes a connection whose answers backed up once they drain; one stopped for good stays stopped.
  if (turns.stopped || socket.writableNeedDrain || socket._paused !== true) return;
  socket._paused = false;
  socket.parser?.resume();
  socket.resume();
}

/**
 * The requests of this connection that wait their turn are never run (the drain: they have not started,
 * so nothing of them ran), and nothing more is read from it. Returns their responses, which are never
 * answered: the connection is to close after the answers of the requests already running (whose bodies
 * were read whole, as a request waits only once those before it are parsed).
 */
export function dropWaiting(socket: Socket): ServerResponse[] {
  const turns = turnsBySocket.get(socket);
  // Nothing waits: a running request may still be reading its body, so the connection is left as it is.
  if (turns === undefined || turns.waiting.length === 0) return [];
  stopReading(socket);
  return turns.waiting.splice(0).map(([, res]) => res);
}

/** Nothing more is read from this connection (its answers are still written). */
export function stopReading(socket: Socket): void {
  turnsOf(socket).stopped = true;
  socket.pause();
}
