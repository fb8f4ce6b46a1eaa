import type { Libp2p } from "@libp2p/interface";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { FRAME_STREAM_HIGH_WATER_BYTES, FrameStream } from "./frame-stream.ts";
import { MAX_BODY_FRAME_BYTES } from "./http-frames.ts";
import { learnAddresses, patternBytes, TestNodes, within } from "./mesh.fixture.ts";

const PROTOCOL = "/dsmp/test-frames/1.0.0";
const nodes = new TestNodes();

afterEach(() => nodes.stopAll());

/** A writer on `from` sending `total` bytes of BODY frames to a reader on `to`; counts both sides. */
async function transfer(from: Libp2p, to: Libp2p, total: number, readFrame: (index: number) => Promise<void>) {
  let sent = 0;
  let read = 0;
  let maxInFlight = 0;
  let mismatch = -1;
  const done = new Promise<void>((resolve, reject) => {
    void to.handle(PROTOCOL, async (stream) => {
      const frames = new FrameStream(stream);
      try {
        for (let index = 0, frame = await frames.read(); frame !== null; index++, frame = await frames.read()) {
          if (frame.type !== "body") throw new Error(`unexpected ${frame.type}`);
          if (mismatch < 0 && !Buffer.from(frame.chunk).equals(Buffer.from(patternBytes(read, frame.chunk.byteLength)))) mismatch = read;
          read += frame.chunk.byteLength;
          await readFrame(index);
        }
        resolve();
      } catch (error) {
        reject(error as Error);
      }
    });
  });
  await learnAddresses(from, to);
  const frames = new FrameStream(await from.dialProtocol(to.peerId, PROTOCOL));
  for (let offset = 0; offset < total; offset += MAX_BODY_FRAME_BYTES) {
    await frames.write({ type: "body", requestId: 1, chunk: patternBytes(offset, MAX_BODY_FRAME_BYTES) });
    sent += MAX_BODY_FRAME_BYTES;
    maxInFlight = Math.max(maxInFlight, sent - read);
  }
  await frames.closeWrite();
  await within(done, "all frames read");
  return { read, maxInFlight, mismatch };
}

describe("FrameStream back-pressure", () => {
  it("holds a fast writer to the receive window of a slow reader", async () => {
    const window = 1024 * 1024;
    const [writer, reader] = await Promise.all([nodes.start({ maxStreamWindowBytes: window }), nodes.start({ maxStreamWindowBytes: window })]);
    const total = 32 * 1024 * 1024;
    const result = await transfer(writer, reader, total, async (index) => {
      if (index % 4 === 0) await delay(1);
    });
    expect([result.read, result.mismatch]).toEqual([total, -1]);
    // Paused stream buffer + decoder, each at most one window, plus the high-water mark and a frame in hand.
    expect(result.maxInFlight).toBeLessThanOrEqual(2 * window + FRAME_STREAM_HIGH_WATER_BYTES + 2 * MAX_BODY_FRAME_BYTES);
    console.log(`1 MiB window: at most ${(result.maxInFlight / 1048576).toFixed(2)} MiB in flight`);
  });

  it("survives a slow reader under yamux's default 16 MiB window (pause is not undone by resume)", async () => {
    const [writer, reader] = await Promise.all([nodes.start(), nodes.start()]);
    const total = 64 * 1024 * 1024;
    const result = await transfer(writer, reader, total, async (index) => {
      if (index % 16 === 0) await delay(1);
    });
    expect([result.read, result.mismatch]).toEqual([total, -1]);
    console.log(`16 MiB window: at most ${(result.maxInFlight / 1048576).toFixed(2)} MiB in flight`);
  });
});
