import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import { createTaskQueue, type TaskJobContext, type TaskQueue } from "./job-queue.ts";
import { startOwnedRedis, type OwnedRedis } from "./redis-server.fixture.ts";

const REDIS_URL = process.env.DSMP_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const queues: TaskQueue<unknown>[] = [];
const prefixes: string[] = [];
const FAR = Math.floor(Date.now() / 1000) + 3600;

function prefix(): string {
  const p = `dsmp-test:jobq:${randomUUID()}`;
  prefixes.push(p);
  return p;
}

function open<R>(init: Parameters<typeof createTaskQueue<R>>[0]): TaskQueue<R> {
  const q = createTaskQueue<R>(init)({ logger: createSilentLogger() });
  queues.push(q as TaskQueue<unknown>);
  return q;
}

/** Resolves when `cond` holds, polling every 20 ms, or rejects after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms = 15_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close({ force: true })));
});
afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
});

describe("task job queue (BullMQ, real Redis)", () => {
  it("runs each task once: the job id is the task id, a second add is a no-op", async () => {
    const runs: string[] = [];
    const q = open({ redisUrl: REDIS_URL, prefix: prefix(), process: async ({ data }) => runs.push(data.taskId) });
    const done: string[] = [];
    await q.start({ completed: (id) => done.push(id) });
    expect(await q.add({ taskId: "1", deadline: FAR })).toBe(true);
    expect(await q.add({ taskId: "2", deadline: FAR })).toBe(true);
    await until(() => done.length === 2, undefined, "two completions");
    expect(await q.add({ taskId: "1", deadline: FAR })).toBe(false);
    expect(await q.state("1")).toBe("completed");
    expect(runs.sort()).toEqual(["1", "2"]);
  });

  it("retries a failing job with backoff, then succeeds", async () => {
    const attempts: number[] = [];
    const q = open({
      redisUrl: REDIS_URL,
      prefix: prefix(),
      backoffMs: 50,
      process: async ({ attempt }: TaskJobContext) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`blob peer unreachable (attempt ${attempt})`);
        return "ok";
      },
    });
    const failures: boolean[] = [];
    let result: unknown;
    await q.start({ failed: (_id, _r, final) => failures.push(final), completed: (_id, r) => (result = r) });
    await q.add({ taskId: "9", deadline: FAR });
    await until(() => result !== undefined, undefined, "completion after retries");
    expect(attempts).toEqual([1, 2, 3]);
    expect(failures).toEqual([false, false]);
    expect(result).toBe("ok");
  });

  it("abandons a job whose task deadline has passed, without retrying", async () => {
    let now = 1_000_000_000_000;
    let ran = 0;
    const q = open({ redisUrl: REDIS_URL, prefix: prefix(), now: () => now, process: async () => ran++ });
    const failed: { reason: string; final: boolean }[] = [];
    await q.start({ failed: (_id, reason, final) => failed.push({ reason, final }) });
    now = 1_000_000_100_000; // 100 s later than the deadline below
    await q.add({ taskId: "5", deadline: 1_000_000_000 });
    await until(() => failed.length === 1, undefined, "abandon");
    expect(failed[0]).toEqual({ reason: "task 5: deadline passed; abandoned", final: true });
    expect(ran).toBe(0);
    expect(await q.state("5")).toBe("failed");
  });

  it("a node that dies mid-job (no lock renewal): the next start of the node resumes the job", async () => {
    const p = prefix();
    let started!: () => void;
    const hasStarted = new Promise<void>((r) => (started = r));
    // First incarnation: picks the job and hangs (as if the process froze and was killed).
    const first = open({ redisUrl: REDIS_URL, prefix: p, lockMs: 1_000, process: () => (started(), new Promise(() => {})) });
    await first.start();
    await first.add({ taskId: "42", deadline: FAR });
    await hasStarted;
    await first.close({ force: true });
    // Second incarnation, same prefix: finds the job stalled once the lock lapses and runs it.
    const done: string[] = [];
    const second = open({ redisUrl: REDIS_URL, prefix: p, lockMs: 1_000, process: async ({ data }) => data.taskId });
    await second.start({ completed: (id) => done.push(id) });
    await until(() => done.includes("42"), 20_000, "resumed job");
    expect(await second.state("42")).toBe("completed");
  });

  it("close() waits for a running job to finish (graceful drain)", async () => {
    let release!: () => void;
    let started!: () => void;
    const hasStarted = new Promise<void>((r) => (started = r));
    const finished: string[] = [];
    const q = open({
      redisUrl: REDIS_URL,
      prefix: prefix(),
      process: async ({ data }) => {
        started();
        await new Promise<void>((r) => (release = r));
        finished.push(data.taskId);
      },
    });
    await q.start();
    await q.add({ taskId: "7", deadline: FAR });
    await hasStarted;
    const closing = q.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toEqual(["7"]);
  });
});

describe("task job queue durability (test-owned redis-server, appendonly yes)", () => {
  let redis: OwnedRedis | undefined;
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close({ force: true })));
    await redis?.stop();
  });

  it("kill -9 of Redis mid-queue loses no queued job", async () => {
    redis = await startOwnedRedis();
    const total = 40;
    const processed = new Set<string>();
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const q = open({
      redisUrl: redis.url,
      prefix: "dsmp-test:durable",
      concurrency: 2,
      lockMs: 2_000,
      backoffMs: 50,
      process: async ({ data }) => {
        await gate;
        processed.add(data.taskId);
      },
    });
    for (let i = 0; i < total; i++) await q.add({ taskId: String(i), deadline: FAR });
    await q.start();
    // Let some jobs through, then crash Redis with the rest still queued.
    release();
    await until(() => processed.size >= 5, undefined, "first jobs");
    gate = new Promise<void>((r) => (release = r));
    await redis.kill9();
    await redis.start();
    release();
    await until(async () => (await q.counts()).completed === total, 30_000, "all jobs completed after the Redis restart");
    expect(processed.size).toBe(total);
    for (let i = 0; i < total; i++) expect(await q.state(String(i))).toBe("completed");
  });
});
