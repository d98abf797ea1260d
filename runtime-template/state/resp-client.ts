// A minimal Redis client (RESP2) for the state store: one connection, commands pipelined in order,
// a timeout on connecting and on every reply, reconnect on the next command after a failure.
// Every failure surfaces as StateUnavailable, so callers fail closed instead of hanging.

import { createConnection, type Socket } from "node:net";
import { StateUnavailable } from "./state-store.js";

type Reply = string | number | null | Reply[] | Error;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RespClient {
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly password: string | undefined,
    private readonly timeoutMs = 2000,
  ) {}

  static fromUrl(url: string, timeoutMs?: number): RespClient {
    const parsed = new URL(url);
    return new RespClient(parsed.hostname, Number(parsed.port || 6379), parsed.password === "" ? undefined : decodeURIComponent(parsed.password), timeoutMs);
  }

  async command(...args: Array<string | number>): Promise<Reply> {
    const socket = await this.#connect();
    return this.#send(socket, args);
  }

  #send(socket: Socket, args: Array<string | number>): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(new StateUnavailable("redis did not answer in time")), this.timeoutMs);
      this.#pending.push({ resolve, reject, timer });
      const parts = args.map((a) => String(a));
      socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("")}`);
    }).then((reply) => {
      if (reply instanceof Error) throw reply;
      return reply;
    });
  }

  #connect(): Promise<Socket> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = createConnection({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new StateUnavailable(`cannot reach redis at ${this.host}:${this.port}`));
      }, this.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        this.#socket = socket;
        socket.on("data", (chunk: Buffer) => this.#receive(chunk));
        socket.on("error", () => this.#fail(new StateUnavailable("redis connection lost")));
        socket.on("close", () => this.#fail(new StateUnavailable("redis connection closed")));
        if (this.password === undefined) return resolve(socket);
        this.#send(socket, ["AUTH", this.password]).then(() => resolve(socket), reject);
      });
      socket.once("error", () => {
        clearTimeout(timer);
        reject(new StateUnavailable(`cannot reach redis at ${this.host}:${this.port}`));
      });
    }).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #fail(error: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#buffer = Buffer.alloc(0);
    socket?.destroy();
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseReply(this.#buffer, 0);
      if (parsed === undefined) return;
      this.#buffer = this.#buffer.subarray(parsed.end);
      const pending = this.#pending.shift();
      if (pending === undefined) return;
      clearTimeout(pending.timer);
      pending.resolve(parsed.value);
    }
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.end();
  }
}

/** Parses one reply starting at `at`; undefined when the buffer does not hold it whole yet. */
function parseReply(buffer: Buffer, at: number): { value: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", at);
  if (lineEnd === -1) return undefined;
  const kind = String.fromCharCode(buffer[at]!);
  const line = buffer.toString("utf8", at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (kind) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length === -1) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count === -1) return { value: null, end: next };
      const items: Reply[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, position);
        if (item === undefined) return undefined;
        items.push(item.value);
        position = item.end;
      }
      return { value: items, end: position };
    }
    default:
      return { value: new Error(`unexpected redis reply ${kind}`), end: buffer.length };
  }
}
