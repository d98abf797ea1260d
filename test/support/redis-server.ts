// A real redis-server on a free loopback port, for tests of the shared state store.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { RespClient } from "../../runtime-template/state/resp-client.js";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRedis(): Promise<{ url: string; process: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const client = RespClient.fromUrl(url, 500);
  for (let i = 0; i < 50; i++) {
    try {
      await client.command("PING");
      await client.close();
      return { url, process: child, stop: async () => void child.kill("SIGTERM") };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start (is it installed? .ci/run installs it with apt-get)");
}
