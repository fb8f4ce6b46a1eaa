/**
 * The node's durable task queue (DESIGN §4.3): one BullMQ queue and worker per node, under a per-node key
 * prefix, holding one job per assigned task. The job id is derived from the task id (`task-<id>`), so adding a task twice (the chain view
 * replays its events after a restart) is a no-op. Jobs survive a crash of the node (a job that was running is
 * found stalled and re-run) and, with Redis persistence on, a restart of Redis. A job whose task deadline has
 * passed is abandoned (failed without retry), never run late.
 *
 * @example
 * const queue = createTaskQueue({ redisUrl, prefix: `dsmp:${address}`, process: runTask })({ logger })
 * await queue.start()
 * await queue.add({ taskId: "7", deadline: 1_800_000_000 })
 * await queue.close() // waits for running jobs
 */
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";

/** Tries per job: one run and two retries cover a blob peer or RPC endpoint that was briefly unreachable. */
export const TASK_JOB_ATTEMPTS = 3;
/** First retry delay (ms), doubled per retry (exponential backoff): 1 s, 2 s — well inside a task's commit window. */
export const TASK_JOB_BACKOFF_MS = 1_000;
/** Tasks run side by side per node: each holds one sandbox thread (64 MiB memory cap) at a time. */
export const TASK_JOB_CONCURRENCY = 4;
/**
 * How long a running job's lock lasts without renewal (ms). The worker renews it every half; after a crash the
 * job is seen stalled and re-queued once the lock expires, so this is also the worst-case resume delay.
 */
export const TASK_JOB_LOCK_MS = 10_000;
/** Completed/failed jobs kept (seconds): a day, for `dsmp task status` and to keep re-adds of old tasks no-ops. */
export const TASK_JOB_RETENTION_S = 24 * 60 * 60;

/** What a job carries: the task and when it stops being worth running. */
export interface TaskJobData {
  /** Decimal task id; also the job id. */
  taskId: string;
  /** Unix seconds after which the job is abandoned (the task's final deadline). */
  deadline: number;
  /** Anything else the processor wants to survive a restart. */
  [key: string]: unknown;
}

/** The task's deadline passed before (or while) it ran: failed without retry. */
export class TaskDeadlinePassedError extends UnrecoverableError {
  constructor(taskId: string) {
    super(`task ${taskId}: deadline passed; abandoned`);
    this.name = "TaskDeadlinePassedError";
  }
}

/** The processor's view of a job. */
export interface TaskJobContext {
  data: TaskJobData;
  /** 1 on the first run. */
  attempt: number;
  /** Aborted when the queue closes with `force` or the job is cancelled. */
  signal: AbortSignal;
}

export interface TaskQueueInit<R> {
  redisUrl: string;
  /** Key prefix of this node's queue (e.g. `dsmp:<node address>`); several nodes may share one Redis. */
  prefix: string;
  /** Runs one job; throw to retry (up to `attempts`), throw {@link UnrecoverableError} to fail at once. */
  process: (job: TaskJobContext) => Promise<R>;
  /** @default {@link TASK_JOB_ATTEMPTS} */
  attempts?: number;
  /** @default {@link TASK_JOB_BACKOFF_MS} */
  backoffMs?: number;
  /** @default {@link TASK_JOB_CONCURRENCY} */
  concurrency?: number;
  /** @default {@link TASK_JOB_LOCK_MS} */
  lockMs?: number;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  /** Queue name under the prefix. @default "tasks" */
  name?: string;
}

export interface TaskQueueEvents<R> {
  completed?: (taskId: string, result: R) => void;
  failed?: (taskId: string, reason: string, final: boolean) => void;
}

export interface TaskQueue<R> {
  /** Starts the worker (jobs left by a previous run, waiting or stalled, are picked up). */
  start(events?: TaskQueueEvents<R>): Promise<void>;
  /** Adds the task's job unless one with this task id exists already; returns whether it was added. */
  add(data: TaskJobData): Promise<boolean>;
  /** The job's state (`waiting`, `active`, `completed`, `failed`, `delayed`, …) or `undefined`. */
  state(taskId: string): Promise<string | undefined>;
  /** Counts by state. */
  counts(): Promise<Record<string, number>>;
  /** Closes the worker (waiting for running jobs unless `force`), then the queue and connections. Idempotent. */
  close(options?: { force?: boolean }): Promise<void>;
}

/** BullMQ refuses integer custom ids (they collide with its own counters): `task-<id>`. */
export function jobIdOf(taskId: string): string {
  return `task-${taskId}`;
}

function connection(url: string): Redis {
  // BullMQ's blocking commands need maxRetriesPerRequest: null (they retry forever across reconnects).
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export function createTaskQueue<R>(init: TaskQueueInit<R>): (components: { logger: Logger }) => TaskQueue<R> {
  const name = init.name ?? "tasks";
  const now = init.now ?? Date.now;
  const jobOptions: JobsOptions = {
    attempts: init.attempts ?? TASK_JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: init.backoffMs ?? TASK_JOB_BACKOFF_MS },
    removeOnComplete: { age: TASK_JOB_RETENTION_S },
    removeOnFail: { age: TASK_JOB_RETENTION_S },
  };
  return ({ logger }) => {
    const log = logger.child({ module: "task-queue" });
    const queueConnection = connection(init.redisUrl);
    // Errors while Redis is down are retried by ioredis; log them once per burst rather than crash.
    queueConnection.on("error", (err) => log.debug({ err }, "queue connection error"));
    const queue = new Queue<TaskJobData, R>(name, { connection: queueConnection, prefix: init.prefix, defaultJobOptions: jobOptions });
    queue.on("error", (err) => log.debug({ err }, "queue error"));
    let worker: Worker<TaskJobData, R> | undefined;
    let workerConnection: Redis | undefined;
    let closing: Promise<void> | undefined;

    const processor = async (job: Job<TaskJobData, R>, _token?: string, signal?: AbortSignal): Promise<R> => {
      if (now() > job.data.deadline * 1000) throw new TaskDeadlinePassedError(job.data.taskId);
      return init.process({ data: job.data, attempt: job.attemptsMade + 1, signal: signal ?? new AbortController().signal });
    };

    return {
      async start(events = {}) {
        if (worker !== undefined) return;
        workerConnection = connection(init.redisUrl);
        workerConnection.on("error", (err) => log.debug({ err }, "worker connection error"));
        worker = new Worker<TaskJobData, R>(name, processor, {
          connection: workerConnection,
          prefix: init.prefix,
          concurrency: init.concurrency ?? TASK_JOB_CONCURRENCY,
          lockDuration: init.lockMs ?? TASK_JOB_LOCK_MS,
          stalledInterval: Math.max(500, Math.floor((init.lockMs ?? TASK_JOB_LOCK_MS) / 2)),
          // A job found stalled is re-run (the node crashed mid-task) up to twice before it is failed.
          maxStalledCount: 2,
        });
        worker.on("error", (err) => log.debug({ err }, "worker error"));
        worker.on("completed", (job, result) => events.completed?.(job.data.taskId, result));
        worker.on("failed", (job, err) => {
          if (job === undefined) return;
          const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
          log.info({ taskId: job.data.taskId, attempt: job.attemptsMade, final, err: err.message }, final ? "task job failed" : "task job failed; will retry");
          events.failed?.(job.data.taskId, err.message, final);
        });
        await worker.waitUntilReady();
      },
      async add(data) {
        // BullMQ itself ignores an add with an existing job id (atomically); the look-up only tells the caller.
        if ((await queue.getJob(jobIdOf(data.taskId))) !== undefined) return false;
        await queue.add("task", data, { jobId: jobIdOf(data.taskId) });
        return true;
      },
      async state(taskId) {
        const s = await queue.getJobState(jobIdOf(taskId));
        return s === "unknown" ? undefined : s;
      },
      async counts() {
        return queue.getJobCounts("waiting", "active", "completed", "failed", "delayed", "prioritized");
      },
      close(options = {}) {
        closing ??= (async () => {
          try {
            await worker?.close(options.force === true);
          } catch (err) {
            log.warn({ err }, "error closing the task worker");
          }
          try {
            await queue.close();
          } catch (err) {
            log.warn({ err }, "error closing the task queue");
          }
          for (const c of [workerConnection, queueConnection]) c?.disconnect();
        })();
        return closing;
      },
    };
  };
}

