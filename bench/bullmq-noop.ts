/**
 * BullMQ no-op job throughput through the node's task queue (worker/src/tasks/job-queue.ts), per node:
 * enqueue N jobs in bulk-free single adds (as the chain watcher does), then time a worker draining them with
 * a no-op processor. Baseline in the same run: raw Redis round trips (PING) per second on the same connection.
 *
 *   node bench/bullmq-noop.ts [--jobs 5000] [--concurrency 1,50] [--redis redis://127.0.0.1:6379]
 * Target (issue 5): ≥ 1 000 jobs/s per node.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { createSilentLogger } from "../worker/src/log.ts";
import { createTaskQueue } from "../worker/src/tasks/job-queue.ts";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "5000" }, concurrency: { type: "string", default: "1,50" }, redis: { type: "string", default: "redis://127.0.0.1:6379" } },
});
const jobs = Number(values.jobs);
const url = values.redis!;
const far = Math.floor(Date.now() / 1000) + 3600;

const raw = new Redis(url);
const pingStart = performance.now();
for (let i = 0; i < 2000; i++) await raw.ping();
const pingsPerSecond = 2000 / ((performance.now() - pingStart) / 1000);

console.log(`| concurrency | jobs | enqueue jobs/s | drain jobs/s (no-op) | Redis PING/s (sequential, baseline) |`);
console.log(`|---|---|---|---|---|`);
for (const concurrency of values.concurrency!.split(",").map(Number)) {
  const prefix = `dsmp-bench:${randomUUID()}`;
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((r) => (finished = r));
  const queue = createTaskQueue({ redisUrl: url, prefix, concurrency, process: async () => undefined })({ logger: createSilentLogger() });
  const enqueueStart = performance.now();
  for (let i = 0; i < jobs; i++) await queue.add({ taskId: String(i + 1), deadline: far });
  const enqueueSeconds = (performance.now() - enqueueStart) / 1000;
  const drainStart = performance.now();
  await queue.start({
    completed: () => {
      if (++done === jobs) finished();
    },
  });
  await allDone;
  const drainSeconds = (performance.now() - drainStart) / 1000;
  await queue.close();
  const keys = await raw.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 1000) await raw.del(...keys.slice(i, i + 1000));
  console.log(`| ${concurrency} | ${jobs} | ${(jobs / enqueueSeconds).toFixed(0)} | ${(jobs / drainSeconds).toFixed(0)} | ${pingsPerSecond.toFixed(0)} |`);
}
raw.disconnect();
