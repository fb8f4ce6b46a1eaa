/**
 * Worker-thread entry of the Proof of Resource prover: derives one matrix pair of a challenge and multiplies
 * it, off the event loop that serves the mesh. Message in: `{ id, key, index, n }`; out: `{ id, product }`
 * (the product's ArrayBuffer transferred) or `{ id, error }`.
 */
import { parentPort } from "node:worker_threads";
import { challengeMatrices, multiplyMod } from "./matrix-challenge.ts";

interface Job {
  id: number;
  key: Uint8Array;
  index: number;
  n: number;
}

parentPort!.on("message", (job: Job) => {
  try {
    const { a, b } = challengeMatrices(job.key, job.index, job.n);
    const product = multiplyMod(a, b, job.n);
    const buffer = product.buffer as ArrayBuffer;
    parentPort!.postMessage({ id: job.id, product: buffer }, [buffer]);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
