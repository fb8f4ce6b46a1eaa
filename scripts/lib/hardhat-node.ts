/**
 * Starts a real `hardhat node` (JSON-RPC over HTTP on 127.0.0.1) as a child process for end-to-end tests and
 * scripts, and stops it. Uses the local binary, not npx, so killing it leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createPublicClient, http } from "viem";

const ROOT = new URL("../..", import.meta.url).pathname; // repository root

export interface HardhatNode {
  rpcUrl: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * One JSON-RPC call, for the node's test methods viem has no action for in a plain client
 * (`evm_mine`, `evm_increaseTime`, `evm_setNextBlockTimestamp`, …).
 * @throws Error with the node's message when it answers an error.
 */
export async function hardhatRpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const json = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (json.error) throw new Error(`${method}: ${json.error.message}`);
  return json.result;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startHardhatNode(opts: { port?: number; signal?: AbortSignal } = {}): Promise<HardhatNode> {
  const port = opts.port ?? (await freePort());
  const child = spawn(`${ROOT}node_modules/.bin/hardhat`, ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += String(d)));
  child.stderr?.on("data", (d) => (output += String(d)));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
  const signal = opts.signal ?? AbortSignal.timeout(60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited (${child.exitCode}):\n${output}`);
    if (signal.aborted) {
      child.kill("SIGKILL");
      throw new Error(`hardhat node did not answer on ${rpcUrl} in time:\n${output}`);
    }
    try {
      await client.getChainId();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    rpcUrl,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
