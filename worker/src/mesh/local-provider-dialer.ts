/**
 * A node's gateway calling a service the same node provides. libp2p refuses to dial its own PeerId ("Can not
 * dial self"), so without this a node that is a service's only provider answered its own gateway's calls
 * `502 providers-unreachable`, and with other providers spent an attempt on itself first.
 *
 * {@link localProviderDialer} wraps `libp2p.dialProtocol`: a `/dsmp/mesh/1.0.0` dial to the node's own PeerId
 * gets one end of an in-memory stream pair (@libp2p/utils' `streamPair`: a message queue per direction, with
 * back-pressure) and the node's provider gets the other end as an inbound session from itself — so a local
 * call goes through exactly the provider's checks (access tokens, subscriptions, escrow), metering and
 * backend forwarding that a remote call does. Every other dial goes to libp2p unchanged.
 */
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { streamPair } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { MESH_PROTOCOL_ID } from "./session-protocol.ts";

/** The provider side that takes a session stream (HttpProvider.handleSession). */
export interface LocalSessionHandler {
  handleSession(stream: Stream, connection: Connection): void;
  /** Sessions are taken now (the provider is started and not stopping). */
  readonly accepting: boolean;
}

/** The refusal of a session to the node's own provider while it is not started or stopping: a failed dial. */
export class LocalProviderUnavailableError extends Error {
  override readonly name = "LocalProviderUnavailableError";
}

/**
 * `dialProtocol` for a gateway on the node whose PeerId is `self`: sessions to `self` are served in memory by
 * `provider`; everything else is dialled through `libp2p`.
 */
export function localProviderDialer(libp2p: Pick<Libp2p, "dialProtocol">, self: PeerId, provider: LocalSessionHandler): Pick<Libp2p, "dialProtocol"> {
  // What the provider reads of the connection a session arrived on: who is calling (for logs and metrics).
  const selfConnection = { remotePeer: self, direction: "inbound", status: "open" } as unknown as Connection;
  // Fixed addresses: streamPair otherwise numbers each pair's mock connections with a process-wide counter
  // turned into a TCP port, which overflows 65535 after 32 768 pairs.
  const loopback = multiaddr("/ip4/127.0.0.1/tcp/0");
  return {
    dialProtocol: (async (peer: Parameters<Libp2p["dialProtocol"]>[0], protocols: string | string[], options?: Parameters<Libp2p["dialProtocol"]>[2]) => {
      const wanted = Array.isArray(protocols) ? protocols : [protocols];
      const isSelf = typeof (peer as PeerId).equals === "function" && (peer as PeerId).equals(self);
      if (!isSelf || !wanted.includes(MESH_PROTOCOL_ID)) return libp2p.dialProtocol(peer, protocols, options);
      options?.signal?.throwIfAborted();
      // A provider that is not taking sessions would abort this one at once, after the dial "succeeded", and
      // the pool would dial again without pause: refuse the dial instead, as libp2p does for a protocol
      // nobody handles.
      if (!provider.accepting) throw new LocalProviderUnavailableError("this node's provider is not taking sessions (not started, or stopping)");
      const [outbound, inbound] = await streamPair({
        protocol: MESH_PROTOCOL_ID,
        outboundConnection: { remoteAddr: loopback },
        inboundConnection: { remoteAddr: loopback },
      });
      provider.handleSession(inbound, selfConnection);
      return outbound;
    }) as Libp2p["dialProtocol"],
  };
}
