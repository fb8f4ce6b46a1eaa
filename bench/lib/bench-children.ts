/**
 * Plumbing shared by the benchmarks that run each part as its own Node process (mesh-http.ts, mesh-open.ts):
 * the orchestrator forks the bench file itself with role arguments; a child reports `ready`, answers `cpu`
 * with its `process.cpuUsage()` and exits on `stop`.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";

export type Message = { type: string; [key: string]: unknown };

export interface Child {
  name: string;
  process: ChildProcess;
  /** The child's first message. */
  ready: Message;
}

/** In a child: a message to the orchestrator. */
export function send(message: Message): void {
  process.send!(message);
}

/** Forks `file` with `args` and waits for its first message. */
export async function startChild(name: string, file: string, args: string[], execArgv: string[] = process.execArgv): Promise<Child> {
  const child = fork(file, args, { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ready = await new Promise<Message>((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  child.removeAllListeners("exit");
  return { name, process: child, ready };
}

/** Sends `message` to a child and resolves with its first reply of type `answer`. */
export function ask<T extends Message>(child: Child, message: Message, answer: string): Promise<T> {
  return new Promise<T>((resolve) => {
    const onMessage = (reply: Message): void => {
      if (reply.type !== answer) return;
      child.process.off("message", onMessage);
      resolve(reply as T);
    };
    child.process.on("message", onMessage);
    child.process.send(message);
  });
}

/** Asks a child to stop; SIGKILL after 10 s. */
export async function stopChild(child: Child): Promise<void> {
  const exited = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  child.process.send({ type: "stop" });
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (child.process.exitCode === null) child.process.kill("SIGKILL");
}

/** The p-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
/** A number for a report: `digits` decimals, `n/a` when not finite. */
export const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The benchmarks' backend: answers any request with 200 and the request body, keep-alive 60 s, on 127.0.0.1. */
export async function startEchoBackend(onConnection?: () => void): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.byteLength) });
      res.end(body);
    });
  });
  if (onConnection !== undefined) server.on("connection", onConnection);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}
