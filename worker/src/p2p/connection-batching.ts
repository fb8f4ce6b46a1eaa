/**
 * Fewer messages per libp2p write, without changing any wire format: two wrappers around the connection
 * encrypter and the stream muxer factories that libp2p is configured with.
 *
 * Measured (bench/mesh-open.ts --count, one 1 KiB mesh request at a time) with plain Noise + yamux, each
 * `stream.send()` of ours cost, per side:
 * - **two or four socket writes per Noise message**: Noise hands the connection a list
 *   `[2-byte length, ciphertext…]` (the ciphertext itself a list of pieces for messages ≥ 1 200 bytes) and
 *   the TCP connection writes every piece with its own `socket.write` — with `noDelay` each a syscall and a
 *   loopback segment that can wake the reader separately. {@link withCoalescedWrites} hands the connection
 *   one buffer per message instead: one write.
 * - **a yamux WINDOW_UPDATE per DATA frame received**: js-libp2p-yamux grants the window back after every
 *   frame, so every request cost one more frame (one more Noise message, write, wake-up and decryption)
 *   each way. {@link withLazyWindowUpdates} grants it back once half the window is used up, as go-yamux does
 *   (the sender is never left with less than half a window, so it never waits on it).
 */
import { StreamState } from "@chainsafe/libp2p-yamux/stream";
import type { ConnectionEncrypter, MessageStream, StreamMuxerFactory } from "@libp2p/interface";

/**
 * Make `stream.send()` pass one contiguous buffer down (a list is copied into one): the layer below then
 * writes it with one call. Returns `stream`.
 */
export function coalesceSends<T extends MessageStream>(stream: T): T {
  const send = stream.send.bind(stream);
  stream.send = (data: Parameters<MessageStream["send"]>[0]): boolean => send(data instanceof Uint8Array ? data : data.subarray());
  return stream;
}

/**
 * Wrap a connection encrypter factory (e.g. `noise()`) so that every message it writes reaches the raw
 * connection as one buffer (see the module comment). Same handshake, same bytes on the wire.
 * @example connectionEncrypters: [withCoalescedWrites(noise())]
 */
export function withCoalescedWrites<C>(factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const encrypter = factory(components);
    const secureInbound = encrypter.secureInbound.bind(encrypter);
    const secureOutbound = encrypter.secureOutbound.bind(encrypter);
    encrypter.secureInbound = (connection, options) => secureInbound(coalesceSends(connection), options);
    encrypter.secureOutbound = (connection, options) => secureOutbound(coalesceSends(connection), options);
    return encrypter;
  };
}

/** What {@link lazyWindowUpdates} needs of a `@chainsafe/libp2p-yamux` stream (internal members). */
interface YamuxStreamWindow {
  state: StreamState;
  /** Bytes the remote may send in a full window. */
  recvWindow: number;
  /** Bytes the remote may still send before it needs a WINDOW_UPDATE from us. */
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

function isYamuxStreamWindow(stream: object): stream is YamuxStreamWindow {
  const candidate = stream as Partial<YamuxStreamWindow>;
  return typeof candidate.sendWindowUpdate === "function" && typeof candidate.recvWindow === "number" && typeof candidate.recvWindowCapacity === "number";
}

/**
 * Let an established yamux stream send a WINDOW_UPDATE only once the remote has used up at least half its
 * window, instead of after every DATA frame. SYN/ACK updates, paused and closing streams keep yamux's own
 * behaviour. Returns whether the stream was one it knows how to tune.
 */
export function lazyWindowUpdates(stream: object): boolean {
  if (!isYamuxStreamWindow(stream)) return false;
  const sendWindowUpdate = stream.sendWindowUpdate.bind(stream);
  stream.sendWindowUpdate = (): void => {
    if (stream.state === StreamState.Established && stream.recvWindowCapacity > stream.recvWindow / 2) return;
    sendWindowUpdate();
  };
  return true;
}

/**
 * Wrap a yamux muxer factory (`yamux(…)`) so that every stream it creates, either way, sends
 * {@link lazyWindowUpdates}. Wire-compatible with any yamux peer.
 * @example streamMuxers: [withLazyWindowUpdates(yamux())]
 */
export function withLazyWindowUpdates<C>(factory: (components: C) => StreamMuxerFactory): (components: C) => StreamMuxerFactory {
  return (components) => {
    const muxers = factory(components);
    const createStreamMuxer = muxers.createStreamMuxer.bind(muxers);
    muxers.createStreamMuxer = (connection) => {
      const muxer = createStreamMuxer(connection);
      // `_newStream` builds every stream of a YamuxMuxer, inbound and outbound, before its first frame.
      const internals = muxer as unknown as { _newStream?: (...args: unknown[]) => object };
      const newStream = internals._newStream;
      if (typeof newStream === "function") {
        internals._newStream = (...args: unknown[]): object => {
          const stream = newStream.apply(muxer, args);
          lazyWindowUpdates(stream);
          return stream;
        };
      }
      return muxer;
    };
    return muxers;
  };
}
