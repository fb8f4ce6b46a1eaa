import type { Stream } from "@libp2p/interface";
import { describe, expect, it } from "vitest";
import { MAX_BATCH_BYTES, SessionWriter } from "./session-writer.ts";

/** The part of a libp2p stream the writer uses: `send()` (its answer scripted) and 'drain' / 'close' events. */
class FakeStream extends EventTarget {
  readonly sent: Uint8Array[] = [];
  accept = true;
  send(bytes: Uint8Array): boolean {
    this.sent.push(bytes);
    return this.accept;
  }
  drain(): void {
    this.accept = true;
    this.dispatchEvent(new Event("drain"));
  }
  close(error: Error): void {
    const event = Object.assign(new Event("close"), { error });
    this.dispatchEvent(event);
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(highWaterBytes = 1024): { stream: FakeStream; writer: SessionWriter } {
  const stream = new FakeStream();
  return { stream, writer: new SessionWriter(stream as unknown as Stream, { highWaterBytes }) };
}

describe("SessionWriter", () => {
  it("hands every frame of one event-loop turn to the stream as one buffer, in order", async () => {
    const { stream, writer } = setup();
    for (let index = 0; index < 100; index++) writer.push(Uint8Array.of(index));
    expect(stream.sent).toHaveLength(0);
    await nextTurn();
    expect(stream.sent).toHaveLength(1);
    expect([...stream.sent[0]!]).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(writer.sends).toBe(1);
  });

  it("passes a lone frame as it is and cuts batches at MAX_BATCH_BYTES", async () => {
    const { stream, writer } = setup(16 * MAX_BATCH_BYTES);
    const lone = new Uint8Array(10);
    writer.push(lone);
    await nextTurn();
    expect(stream.sent[0]).toBe(lone);
    for (let index = 0; index < 5; index++) writer.push(new Uint8Array(MAX_BATCH_BYTES / 2));
    await nextTurn();
    expect(stream.sent.slice(1).map((bytes) => bytes.byteLength)).toEqual([MAX_BATCH_BYTES, MAX_BATCH_BYTES, MAX_BATCH_BYTES / 2]);
  });

  it("stops at back-pressure until 'drain', and holds writers above the high-water mark", async () => {
    const { stream, writer } = setup(1024);
    stream.accept = false;
    writer.push(new Uint8Array(100));
    await nextTurn();
    expect(stream.sent).toHaveLength(1); // accepted, but the stream is now full
    writer.push(new Uint8Array(2000));
    await nextTurn();
    expect(stream.sent).toHaveLength(1); // nothing more until 'drain'
    expect(writer.queuedBytes).toBe(2000);
    let ready = false;
    const waiting = writer.ready().then(() => (ready = true));
    await nextTurn();
    expect(ready).toBe(false);
    stream.drain();
    await waiting;
    expect(stream.sent.map((bytes) => bytes.byteLength)).toEqual([100, 2000]);
    expect(writer.queuedBytes).toBe(0);
  });

  it("fails waiters and drops frames once the stream closes", async () => {
    const { stream, writer } = setup(10);
    stream.accept = false;
    writer.push(new Uint8Array(5));
    await nextTurn();
    writer.push(new Uint8Array(50));
    const waiting = writer.ready();
    stream.close(new Error("reset by peer"));
    await expect(waiting).rejects.toThrow("reset by peer");
    await expect(writer.ready()).rejects.toThrow("reset by peer");
    writer.push(new Uint8Array(1));
    expect([writer.open, writer.queuedBytes]).toEqual([false, 0]);
  });

  it("lets a waiter give up with its signal", async () => {
    const { stream, writer } = setup(10);
    stream.accept = false;
    writer.push(new Uint8Array(5));
    await nextTurn();
    writer.push(new Uint8Array(50));
    const controller = new AbortController();
    const waiting = writer.ready(controller.signal);
    controller.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
  });
});
