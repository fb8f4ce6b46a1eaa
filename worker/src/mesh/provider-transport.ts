/**
 * The seam between the gateway's routing (which provider, how often to retry) and the data path (how one
 * request reaches one provider and its answer comes back). The gateway calls {@link ProviderTransport.exchange}
 * once per attempt; everything below — session streams, request ids, credit, batching — is the
 * transport's business (session-transport.ts implements it over `/dsmp/mesh/1.0.0`).
 */
import type { PeerId } from "@libp2p/interface";
import type { EncodedRequestHead, ResponseHead } from "./http-frames.ts";

/** A request body handed out by chunk index (the gateway's ReplayableBody), pulled as the transport sends. */
export interface RequestBodySource {
  /** Chunk `index`, or `null` after the last one; throws if the client's body failed or `signal` aborts. */
  chunk(index: number, signal: AbortSignal): Promise<Uint8Array | null>;
}

/** A provider's answer once its RESPONSE_HEAD arrived; the body is read chunk by chunk. */
export interface ResponseExchange {
  readonly head: ResponseHead;
  /**
   * The next body chunk, or `null` after END. Reading is what returns credit to the provider, so a reader
   * that stops reading stops the provider (and only this request).
   * @throws {MeshRequestError} when the provider cuts the response short with an ERROR.
   * @throws {MeshTransportError} when the provider resets the request or the session is lost.
   * @throws `signal`'s reason.
   */
  read(signal: AbortSignal): Promise<Uint8Array | null>;
}

export interface ProviderTransport {
  /**
   * Send `head` (checked and serialized once by the caller) and stream `body` to `peer`; resolves when the response head arrives. Aborting `signal`
   * (the client left, the deadline passed, the attempt is over) abandons the request: the provider is told
   * (RESET) and aborts its backend request. Callers abort `signal` once they are done with the response.
   * @throws {MeshRequestError} when the provider answers with an ERROR before the head (its `reason` is the code).
   * @throws {MeshTransportError} when the request could not be carried (`sent` says whether it may have
   *   reached the provider).
   * @throws `signal`'s reason.
   */
  exchange(peer: PeerId, head: EncodedRequestHead, body: RequestBodySource, signal: AbortSignal): Promise<ResponseExchange>;
  /** Close every session; requests still in flight fail. Idempotent. */
  close(): Promise<void>;
}
