/**
 * A 10 MiB echo through gateway → provider → backend to a client that reads slowly: the bytes arrive
 * intact and memory stays bounded because every hop waits for the next one (back-pressure).
 *
 * The gateway talks to the provider over a `/dsmp/mesh/1.0.0` session, where per-request credit (256 KiB
 * each way) bounds what the mesh holds; the nodes also cap yamux's per-stream window at 1 MiB, as they did
 * when this test covered a paused `/dsmp/http/1.0.0` stream (frame-stream.test.ts covers that path).
 */
import { setTimeout as delay } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createGateway, type Gateway } from "./gateway.ts";
import { httpOpen, learnAddresses, patternBody, TestBackend, TestNodes } from "./mesh.fixture.ts";
import { createHttpProvider, type HttpProvider } from "./provider-handler.ts";

setFlagsFromString("--expose-gc");
/** A full collection, so RSS samples measure what is held rather than garbage not yet collected. */
const gc = runInNewContext("gc") as () => void;

const WINDOW_BYTES = 1024 * 1024;
const BODY_BYTES = 10 * 1024 * 1024;
const nodes = new TestNodes();
const backend = new TestBackend();
let gateway: Gateway;
let provider: HttpProvider;

beforeAll(async () => {
  const backendUrl = await backend.start();
  const [gatewayNode, providerNode] = await Promise.all([
    nodes.start({ maxStreamWindowBytes: WINDOW_BYTES }),
    nodes.start({ maxStreamWindowBytes: WINDOW_BYTES }),
  ]);
  await learnAddresses(gatewayNode, providerNode);
  provider = createHttpProvider({ backends: new Map([[1n, backendUrl]]) })({ libp2p: providerNode });
  await provider.start();
  gateway = createGateway({ host: "127.0.0.1", port: 0, requestTimeoutMs: 60_000 })({
    libp2p: gatewayNode,
    resolveProviders: async () => [providerNode.peerId],
  });
  await gateway.start();
});

afterAll(async () => {
  await gateway.stop();
  await provider.stop();
  await nodes.stopAll();
  await backend.stop();
});

/** Byte `index` of the pattern `patternBody` produces (checked without allocating). */
function patternByte(index: number): number {
  return (index * 31 + (index >> 11)) & 0xff;
}

it("streams a 10 MiB body to a slow consumer with bounded memory", async () => {
  // Warm up first (JIT, parser and socket pools, heap sizing) so that growth measures the transfer.
  const warmUp = await httpOpen(`http://127.0.0.1:${gateway.address().port}/svc/1/echo`, { method: "POST", body: patternBody(1024 * 1024) });
  for await (const _chunk of warmUp) {
    // drain
  }
  gc();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let uploaded = 0;
  let received = 0;
  let maxInFlight = 0;
  let mismatch = -1;
  const body = (async function* () {
    for await (const chunk of patternBody(BODY_BYTES)) {
      uploaded += chunk.byteLength;
      yield chunk;
    }
  })();
  const started = performance.now();
  const response = await httpOpen(`http://127.0.0.1:${gateway.address().port}/svc/1/echo`, {
    method: "POST",
    body,
    headers: { "content-length": String(BODY_BYTES) },
  });
  expect(response.statusCode).toBe(200);
  let nextPause = 0;
  let nextSample = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    for (let index = 0; index < chunk.byteLength && mismatch < 0; index++) {
      if (chunk[index] !== patternByte(received + index)) mismatch = received + index;
    }
    received += chunk.byteLength;
    maxInFlight = Math.max(maxInFlight, uploaded - received);
    if (received >= nextSample) {
      nextSample += 512 * 1024;
      gc();
      peak = Math.max(peak, process.memoryUsage.rss());
    }
    if (received >= nextPause) {
      nextPause += 64 * 1024;
      await delay(2); // the slow consumer: at most 32 MiB/s, far below what the mesh moves on loopback
    }
  }
  const elapsedMs = performance.now() - started;
  expect([received, mismatch]).toEqual([BODY_BYTES, -1]);
  const growthMiB = (peak - baseline) / (1024 * 1024);
  console.log(
    `10 MiB echo to a slow consumer: ${elapsedMs.toFixed(0)} ms, peak RSS growth ${growthMiB.toFixed(1)} MiB, ` +
      `upload ahead of download by at most ${(maxInFlight / 1048576).toFixed(1)} MiB (mostly kernel socket buffers of the six loopback hops)`,
  );
  expect(growthMiB).toBeLessThan(64);
});
