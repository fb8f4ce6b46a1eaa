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
 * - **an exception per Noise message received**: Noise's length-prefix decoder reads the 2-byte length of
 *   the next message after every message and learns that there is none from a `RangeError` thrown and
 *   caught — with its stack trace, ~10–25 µs each. {@link withCoalescedWrites} also gives the decoder a
 *   length reader that answers "not yet" without throwing (see {@link quietLengthPrefixes}).
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

/** What {@link quietLengthPrefixes} needs of `@chainsafe/libp2p-noise`'s encrypted connection (internal members). */
interface NoiseMessageDecoder {
  decoder: { lengthDecoder: (data: { length: number }) => number; encodingLength: (length: number) => number };
}

function hasNoiseDecoder(connection: object): connection is NoiseMessageDecoder {
  const decoder = (connection as Partial<NoiseMessageDecoder>).decoder;
  return typeof decoder?.lengthDecoder === "function" && typeof decoder.encodingLength === "function" && decoder.encodingLength(0) === 2;
}

/**
 * Noise's decoder (`LengthPrefixedDecoder` with a 2-byte big-endian length) asks for the next length after
 * every message and stops on the `RangeError` its length reader throws when fewer than 2 bytes are
 * buffered. Answer 0 instead: the decoder then needs 2 bytes for a message and, having fewer, stops the
 * same way, without an exception. (A real length of 0 is handled as before: 2 bytes consumed, nothing
 * emitted.) Returns whether the connection was one it knows how to tune.
 */
export function quietLengthPrefixes(connection: object): boolean {
  if (!hasNoiseDecoder(connection)) return false;
  const decoder = connection.decoder;
  const lengthDecoder = decoder.lengthDecoder;
  decoder.lengthDecoder = (data) => (data.length < 2 ? 0 : lengthDecoder(data));
  return true;
}

/**
 * Wrap a connection encrypter factory (e.g. `noise()`) so that every message it writes reaches the raw
 * connection as one buffer and reading a message throws no exception (see the module comment). Same
 * handshake, same bytes on the wire.
 * @example connectionEncrypters: [withCoalescedWrites(noise())]
 */
export function withCoalescedWrites<C>(factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const encrypter = factory(components);
    const secureInbound = encrypter.secureInbound.bind(encrypter);
    const secureOutbound = encrypter.secureOutbound.bind(encrypter);
    encrypter.secureInbound = async (connection, options) => {
      const secured = await secureInbound(coalesceSends(connection), options);
      quietLengthPrefixes(secured.connection);
      return secured;
    };
    encrypter.secureOutbound = async (connection, options) => {
      const secured = await secureOutbound(coalesceSends(connection), options);
      quietLengthPrefixes(secured.connection);
      return secured;
    };
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
