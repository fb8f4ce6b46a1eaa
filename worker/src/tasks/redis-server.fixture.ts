/**
 * A test-owned `redis-server` on a spare 127.0.0.1 port with append-only persistence (every write fsynced),
 * for durability tests: kill -9 it and start it again on the same directory and port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface OwnedRedis {
  url: string;
  /** SIGKILL, as a crash: nothing gets flushed beyond what the AOF already holds. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (it replays the AOF). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

export async function startOwnedRedis(): Promise<OwnedRedis> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "dsmp-redis-"));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", dir], {
      stdio: "ignore",
    });
    // Ready when it answers PING (bounded).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not come up`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  };
  const kill9 = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };
  await start();
  return {
    url,
    kill9,
    start,
    async stop() {
      await kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
