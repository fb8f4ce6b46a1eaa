/**
 * Transports an Xnode speaks, and the listen addresses each one needs.
 *
 * Every transport here was measured working between two Node 24 processes on this machine
 * (see docs/p2p.md, "Transports measured"). The circuit relay v2 transport is always added: it is
 * how a node behind NAT is reached at all, and how WebRTC peers exchange their SDP offers.
 */
import { quic } from "@chainsafe/libp2p-quic";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { tcp } from "@libp2p/tcp";
import { webRTC, webRTCDirect } from "@libp2p/webrtc";
import { webSockets } from "@libp2p/websockets";
import type { Libp2pOptions } from "libp2p";
import { DEFAULT_P2P_TCP_PORT, DEFAULT_P2P_WS_PORT } from "../config.ts";

/** A transport by its DSMP configuration name. */
export type TransportName = "tcp" | "websockets" | "quic" | "webrtc" | "webrtc-direct";

/** Every transport we ship, in the order a dialler prefers them when several addresses are known. */
export const ALL_TRANSPORTS: readonly TransportName[] = ["quic", "tcp", "websockets", "webrtc-direct", "webrtc"];

/**
 * Default port for TCP and, on UDP, for QUIC: the config's p2p TCP port (4660, in the block
 * 4660–4663 that is clear of IPFS and Ethereum). A fixed port (rather than 0) keeps a node's
 * addresses stable across restarts, so peer caches and bootstrap lists stay valid and a firewall
 * rule can name it. TCP and UDP port spaces are separate, so QUIC shares the number.
 */
export const DEFAULT_TCP_QUIC_PORT = DEFAULT_P2P_TCP_PORT;

/** Default WebSockets port (TCP): the config's p2p WebSocket port (4661). */
export const DEFAULT_WEBSOCKETS_PORT = DEFAULT_P2P_WS_PORT;

/**
 * Default WebRTC Direct port (UDP 4661). Not QUIC's UDP port: both transports bind their own UDP
 * socket and cannot share one; UDP 4661 is free because the WebSocket listener on 4661 is TCP.
 */
export const DEFAULT_WEBRTC_DIRECT_PORT = DEFAULT_P2P_WS_PORT;

/** Ports used by {@link listenAddressesFor}; 0 asks the OS for a free port (tests). */
export interface TransportPorts {
  tcpQuic: number;
  websockets: number;
  webrtcDirect: number;
}

/** The ports a production node listens on by default. */
export const DEFAULT_TRANSPORT_PORTS: TransportPorts = {
  tcpQuic: DEFAULT_TCP_QUIC_PORT,
  websockets: DEFAULT_WEBSOCKETS_PORT,
  webrtcDirect: DEFAULT_WEBRTC_DIRECT_PORT,
};

/** Ports that let many nodes share one host (tests, devnet). */
export const EPHEMERAL_TRANSPORT_PORTS: TransportPorts = { tcpQuic: 0, websockets: 0, webrtcDirect: 0 };

/**
 * The listen multiaddrs that make each named transport reachable on `host` (an IPv4 address:
 * `0.0.0.0` for every interface, `127.0.0.1` for loopback only).
 *
 * `webrtc` gets the `/webrtc` listen address: it does not bind a socket, it registers the SDP
 * signalling handler so peers that reach us over a relay can upgrade to a direct WebRTC connection.
 *
 * @example
 * listenAddressesFor("127.0.0.1", ["tcp", "quic"], EPHEMERAL_TRANSPORT_PORTS)
 * // ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]
 */
export function listenAddressesFor(
  host: string,
  transports: readonly TransportName[],
  ports: TransportPorts = DEFAULT_TRANSPORT_PORTS,
): string[] {
  const addresses: string[] = [];
  for (const name of transports) {
    switch (name) {
      case "tcp":
        addresses.push(`/ip4/${host}/tcp/${ports.tcpQuic}`);
        break;
      case "websockets":
        addresses.push(`/ip4/${host}/tcp/${ports.websockets}/ws`);
        break;
      case "quic":
        addresses.push(`/ip4/${host}/udp/${ports.tcpQuic}/quic-v1`);
        break;
      case "webrtc-direct":
        addresses.push(`/ip4/${host}/udp/${ports.webrtcDirect}/webrtc-direct`);
        break;
      case "webrtc":
        addresses.push("/webrtc");
        break;
    }
  }
  return addresses;
}

/** One libp2p transport factory, as `createLibp2p({ transports })` takes it. */
export type TransportFactory = NonNullable<Libp2pOptions["transports"]>[number];

/** Options for {@link createTransports}. */
export interface CreateTransportsOptions {
  /**
   * How long a relay reservation request may take before the relay is given up (ms). Relays are
   * often far away and busy; too short and a NAT'd node never becomes reachable, too long and a
   * dead relay holds up the search for a live one.
   */
  reservationCompletionTimeoutMs?: number;
  /**
   * STUN/TURN URLs the WebRTC transport uses to find its public address (ICE). Absent: the
   * library's public STUN servers (Google, Twilio, Cloudflare, Mozilla). `[]`: host candidates
   * only, right on a LAN, where asking unreachable STUN servers only delays ICE.
   */
  iceServers?: string[];
}

/** Default for {@link CreateTransportsOptions.reservationCompletionTimeoutMs} (the library's own, 10 s). */
export const RELAY_RESERVATION_TIMEOUT_MS = 10_000;

/**
 * Builds the transport list for `createLibp2p`: the named transports plus the circuit relay v2
 * transport, which is always present (dialling and listening through relays).
 */
export function createTransports(
  names: readonly TransportName[],
  options: CreateTransportsOptions = {},
): TransportFactory[] {
  const factories: TransportFactory[] = [];
  for (const name of new Set(names)) {
    switch (name) {
      case "tcp":
        factories.push(tcp());
        break;
      case "websockets":
        factories.push(webSockets());
        break;
      case "quic":
        factories.push(quic());
        break;
      case "webrtc":
        factories.push(
          webRTC(
            options.iceServers === undefined
              ? {}
              : { rtcConfiguration: { iceServers: options.iceServers.map((url) => ({ urls: [url] })) } },
          ),
        );
        break;
      case "webrtc-direct":
        factories.push(webRTCDirect());
        break;
    }
  }
  factories.push(
    circuitRelayTransport({
      reservationCompletionTimeout: options.reservationCompletionTimeoutMs ?? RELAY_RESERVATION_TIMEOUT_MS,
    }),
  );
  return factories;
}
