import { randomBytes } from "node:crypto";
import net from "node:net";
import { noise } from "@chainsafe/libp2p-noise";
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { yamux } from "@chainsafe/libp2p-yamux";
import { YamuxStream } from "@chainsafe/libp2p-yamux/stream";
import type { Libp2p, Stream, StreamMessageEvent } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { Uint8ArrayList } from "uint8arraylist";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withCoalescedWrites, withLazyWindowUpdates } from "./connection-batching.ts";
import { NODE_CIPHER_MIN_BYTES, noiseCrypto } from "./noise-crypto.ts";

const PROTOCOL = "/dsmp-test/echo/1.0.0";
const nodes: Libp2p[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  const all = nodes.splice(0);
  await Promise.allSettled(all.flatMap((node) => node.getConnections().map((connection) => connection.close())));
  await Promise.allSettled(all.map((node) => node.stop()));
});

async function node(tuned: boolean): Promise<Libp2p> {
  const created = await createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [tuned ? withCoalescedWrites(noise({ crypto: noiseCrypto })) : noise()],
    streamMuxers: [tuned ? withLazyWindowUpdates(yamux()) : yamux()],
  });
  nodes.push(created);
  return created;
}

/** A stream from `from` to an echo handler on `to` (each side tuned or not). */
async function echoStream(fromTuned: boolean, toTuned: boolean): Promise<Stream> {
  const [from, to] = await Promise.all([node(fromTuned), node(toTuned)]);
  await to.handle(PROTOCOL, (stream) => {
    stream.addEventListener("message", (event) => {
      if (!stream.send(event.data)) stream.pause(), void stream.onDrain().then(() => stream.resume());
    });
    stream.addEventListener("remoteCloseWrite", () => void stream.close());
  });
  return from.dialProtocol(to.getMultiaddrs()[0]!, PROTOCOL);
}

/** Send `messages` one at a time, each answered before the next; resolves with the bytes echoed. */
async function pingPong(stream: Stream, messages: Uint8Array[]): Promise<Uint8Array[]> {
  const echoed: Uint8Array[] = [];
  for (const message of messages) {
    const received: Uint8Array[] = [];
    let bytes = 0;
    await new Promise<void>((resolve) => {
      const onMessage = (event: StreamMessageEvent): void => {
        received.push(event.data.subarray());
        bytes += event.data.byteLength;
        if (bytes < message.byteLength) return;
        stream.removeEventListener("message", onMessage);
        resolve();
      };
      stream.addEventListener("message", onMessage);
      stream.send(message);
    });
    echoed.push(Buffer.concat(received));
  }
  return echoed;
}

describe("noiseCrypto", () => {
  const k = randomBytes(32);
  const nonce = randomBytes(12);
  const ad = randomBytes(32);

  it.each([0, 1, NODE_CIPHER_MIN_BYTES - 1, NODE_CIPHER_MIN_BYTES, 1300, 65_519])("agrees with Noise's default for %i bytes, whole or in pieces", (size) => {
    const plaintext = randomBytes(size);
    const pieces = new Uint8ArrayList(plaintext.subarray(0, 12), plaintext.subarray(12));
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray());

    expect(sealed).toEqual(Buffer.from(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()));
    expect(Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(pieces, nonce, ad, k).subarray())).toEqual(sealed);
    expect(Buffer.from(noiseCrypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, k).subarray())).toEqual(plaintext);
    const sealedPieces = new Uint8ArrayList(sealed.subarray(0, 7), sealed.subarray(7));
    expect(Buffer.from(noiseCrypto.chaCha20Poly1305Decrypt(sealedPieces, nonce, ad, k).subarray())).toEqual(plaintext);
  });

  it("refuses a forged tag, and a key array rewritten in place is not served from the cache", () => {
    const key = Buffer.from(k);
    const plaintext = randomBytes(2000);
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray());
    const forged = Buffer.from(sealed);
    forged[forged.length - 1]! ^= 1;
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(forged, nonce, ad, key)).toThrow();

    key.fill(7); // same array, another key
    const other = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray());
    expect(other).toEqual(Buffer.from(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray()));
    expect(other).not.toEqual(sealed);
  });
});

describe("withCoalescedWrites + withLazyWindowUpdates", () => {
  it("interoperate with untuned peers both ways, bulk transfers included", async () => {
    for (const [fromTuned, toTuned] of [[true, false], [false, true], [true, true]] as const) {
      const stream = await echoStream(fromTuned, toTuned);
      const small = Array.from({ length: 20 }, (_, index) => randomBytes(1 + index * 97));
      expect((await pingPong(stream, small)).map((bytes) => Buffer.from(bytes))).toEqual(small);
      // 3 MiB one way and back: far beyond yamux's initial 256 KiB window, so window updates must still flow.
      const bulk = randomBytes(3 * 1024 * 1024);
      expect(Buffer.from((await pingPong(stream, [bulk]))[0]!)).toEqual(bulk);
      await stream.close();
    }
  });

  it("cost one socket write per message each way and no window update per message", async () => {
    const stream = await echoStream(true, true);
    await pingPong(stream, [randomBytes(100)]); // the stream is established (SYN/ACK exchanged)
    const writes = vi.spyOn(net.Socket.prototype as unknown as { _writeGeneric: () => void }, "_writeGeneric");
    const windowUpdates = vi.spyOn(YamuxStream.prototype, "handleWindowUpdate");
    const messages = Array.from({ length: 50 }, () => randomBytes(1300));

    await pingPong(stream, messages);

    // Untuned: 2–4 writes per Noise message (length prefix, ciphertext pieces) and a WINDOW_UPDATE frame
    // (one more message and write) after every DATA frame, each way.
    expect(writes.mock.calls.length).toBeLessThanOrEqual(2 * messages.length + 4);
    expect(windowUpdates.mock.calls.length).toBeLessThanOrEqual(2);
  });
});
