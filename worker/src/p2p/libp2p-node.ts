/**
 * The Xnode's libp2p node: transports, encryption, multiplexing, the DSMP Kademlia DHT, gossipsub,
 * NAT traversal and known-peer persistence, built from one init object.
 *
 * Whitepaper §3.1–3.2 and DESIGN.md §2, §5. What each choice trades off is in docs/p2p.md.
 *
 * @example
 * const node = await createDsmpLibp2p({
 *   privateKey,                                  // secp256k1, from the node keystore
 *   network: "lan",
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrap: ["/ip4/127.0.0.1/tcp/4660/p2p/16Uiu2…"],
 *   dataDir: "/var/lib/dsmp",
 *   dht: { validators, selectors },              // our record namespace (p2p/dht-keys.ts)
 * })
 * await node.libp2p.services.ping.ping(peerAddr)
 * await node.stop()                               // idempotent
 */
import { join } from "node:path";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { autoNAT } from "@libp2p/autonat";
import { bootstrap } from "@libp2p/bootstrap";
import { circuitRelayServer, type CircuitRelayService } from "@libp2p/circuit-relay-v2";
import { dcutr } from "@libp2p/dcutr";
import { gossipsub, StrictSign, type GossipSub, type GossipsubOpts } from "@libp2p/gossipsub";
import { identify, type Identify } from "@libp2p/identify";
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from "@libp2p/interface";
import {
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
  type KadDHT,
  type Selectors,
  type Validators,
} from "@libp2p/kad-dht";
import { ping, type Ping } from "@libp2p/ping";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import { withCoalescedWrites, withLazyWindowUpdates } from "./connection-batching.ts";
import { noiseCrypto } from "./noise-crypto.ts";
import { createDhtRecordStore, type DhtRecordStore } from "./dht-record-store.ts";
import { DEFAULT_PROTOCOL_PREFIX, type DhtMode as ConfigDhtMode, type NodeOptions, type P2pOptions } from "../config.ts";
import { createSilentLogger, type Logger as DsmpLogger } from "../log.ts";
import { peerPersistence, type PeerPersistence, type PeerPersistenceInit } from "./peer-persistence.ts";
import { bootstrapRedial, type BootstrapRedial } from "./bootstrap-redial.ts";
import { autoRelayReservation, type AutoRelayReservation } from "./relay-reservation.ts";
import { ALL_TRANSPORTS, createTransports, listenAddressesFor, type TransportName } from "./transports.ts";

/** Our Kademlia protocol id under a protocol prefix (`/dsmp` → `/dsmp/kad/1.0.0`). */
export function kadProtocolFor(protocolPrefix: string): string {
  return `${protocolPrefix}/kad/1.0.0`;
}

/**
 * Our Kademlia protocol id. A DHT of our own (rather than IPFS's `/ipfs/kad/1.0.0`) keeps the
 * routing table to Xnodes: IPFS peers would answer queries but never hold our records, and would
 * fill our k-buckets.
 */
export const DSMP_KAD_PROTOCOL = kadProtocolFor(DEFAULT_PROTOCOL_PREFIX);

/**
 * Delay before the first self-query of the DHT (ms). The self-query fills the routing table near
 * our own id; the library waits 1 s for connections to come up. Tests set a few ms.
 */
export const DHT_INITIAL_QUERY_SELF_INTERVAL_MS = 1_000;

/** Peers a DHT query asks in parallel on each path: kad-dht's default, 10 (measured in docs/benchmarks.md). */
export const DHT_ALPHA = 10;

/** Disjoint paths of a DHT query: kad-dht's default, alpha (measured in docs/benchmarks.md). */
export const DHT_DISJOINT_PATHS = 10;

/**
 * Delay before bootstrap peers are dialled (ms). Lets the node finish starting (listeners up,
 * services registered) before the first connections arrive; short because a node with nothing to
 * do until it has peers should not wait.
 */
export const BOOTSTRAP_DIAL_DELAY_MS = 100;

/**
 * Most reservations a relay-serving Xnode holds at once. The library default (15) suits a
 * volunteer browser-facing relay; an Xnode opting in is a server, and each reservation costs only
 * an idle connection until it is used. Raise it on a well-provisioned relay.
 */
export const RELAY_MAX_RESERVATIONS = 64;

/** How long a reservation lasts before the client must renew it (ms): the spec's 2 h. */
export const RELAY_RESERVATION_TTL_MS = 2 * 60 * 60 * 1000;

/**
 * Duration cap of one relayed connection (ms), the spec default of 2 min. Relayed connections are
 * meant for signalling and hole punching (DCUtR, WebRTC SDP), after which peers talk directly; a
 * longer cap makes the relay operator carry other nodes' traffic.
 */
export const RELAY_CONNECTION_DURATION_LIMIT_MS = 2 * 60 * 1000;

/** Data cap of one relayed connection, each direction (bytes): the spec default of 128 KiB, same reasoning. */
export const RELAY_CONNECTION_DATA_LIMIT_BYTES = 1n << 17n;

/**
 * Ping streams allowed at once per connection, each way. The library allows 1 outbound: a ping
 * awaited right after another can still find the previous stream half-closed and fail with
 * TooManyOutboundProtocolStreamsError (seen here). 4 absorbs that and overlapping liveness probes
 * while still bounding what one peer can open.
 */
export const PING_MAX_STREAMS_PER_CONNECTION = 4;

/**
 * Largest yamux receive window per stream: 4 MiB (yamux's default is 16 MiB). Enough for ~40 MB/s per
 * stream at 100 ms round-trip time; a mesh session stream carries many requests, each bounded by its own
 * 256 KiB credit (docs/protocol.md §8.6), so a bigger window buys nothing but memory a peer can fill.
 * The initial window stays at yamux's 256 KiB and grows with use.
 */
export const YAMUX_MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** File, under `dataDir`, that holds the known-peers cache. */
export const KNOWN_PEERS_FILE = "known-peers.json";

/**
 * `lan`: every address is kept in the DHT routing table (loopback and private ranges too) and the
 * NAT services are off: a devnet, tests, or a cluster on one private network.
 * `wan`: private addresses are stripped from DHT results (a peer elsewhere cannot dial them) and
 * AutoNAT, DCUtR and relay reservations are on: the public internet.
 * The same values as the config's `p2p.dhtMode`.
 */
export type NetworkMode = ConfigDhtMode;

/** `server` answers DHT queries; `client` only asks; `auto` serves once AutoNAT confirms a public address. */
export type DhtServerMode = "server" | "client" | "auto";

/** DHT options. */
export interface DsmpDhtOptions {
  /** Record validators by key namespace (`/<namespace>/…`); see p2p/dht-keys.ts. */
  validators?: Validators;
  /** Record selectors by key namespace. */
  selectors?: Selectors;
  /** Default `server`: Xnodes are servers by role. A NAT'd WAN node should use `auto`. */
  serverMode?: DhtServerMode;
  /** Default {@link DHT_INITIAL_QUERY_SELF_INTERVAL_MS}. */
  initialQuerySelfIntervalMs?: number;
  /** Interval of the periodic self-query once running (ms); library default (5 min) when absent. */
  querySelfIntervalMs?: number;
  /** Peers asked in parallel per query path. Default {@link DHT_ALPHA}. */
  alpha?: number;
  /** Disjoint paths per query (S/Kademlia). Default {@link DHT_DISJOINT_PATHS}. */
  disjointPaths?: number;
}

/** Relay server options (an Xnode that opts in to relay for NAT'd peers). */
export interface DsmpRelayServerOptions {
  enabled: boolean;
  /** Default {@link RELAY_MAX_RESERVATIONS}. */
  maxReservations?: number;
  /** Default {@link RELAY_RESERVATION_TTL_MS}. */
  reservationTtlMs?: number;
  /** Apply the duration/data caps below to relayed connections. Default true. */
  applyConnectionLimits?: boolean;
  /** Default {@link RELAY_CONNECTION_DURATION_LIMIT_MS}. */
  connectionDurationLimitMs?: number;
  /** Default {@link RELAY_CONNECTION_DATA_LIMIT_BYTES}. */
  connectionDataLimitBytes?: bigint;
}

/**
 * When to reserve a slot on a relay (be reachable as `<relay>/p2p-circuit/p2p/<us>`).
 * `auto`: only if AutoNAT confirms no public address after a grace period (relay-reservation.ts).
 * `always`: at once, on a relay found among connected peers or by DHT random walk. `never`.
 */
export type RelayReservationMode = "auto" | "always" | "never";

/** Relay client options. */
export interface DsmpRelayClientOptions {
  /** Default `auto` on WAN, `never` on LAN. */
  reserve?: RelayReservationMode;
  /** Grace period for `auto` (ms); see RELAY_AUTO_RESERVE_GRACE_MS. */
  autoGraceMs?: number;
  /** Relays (full multiaddrs with `/p2p/<id>`) to reserve on whatever `reserve` says. */
  relays?: string[];
}

/** Gossipsub options we let callers tune; the signature policy is always StrictSign. */
export type DsmpGossipsubOptions = Partial<Omit<GossipsubOpts, "globalSignaturePolicy">>;

/** Everything {@link createDsmpLibp2p} needs. Only `privateKey` is required. */
export interface DsmpLibp2pInit {
  /** The node key (secp256k1): its PeerId is also the node's Ethereum identity (DESIGN.md §2). */
  privateKey: PrivateKey;
  /** Default `wan`. */
  network?: NetworkMode;
  /** Prefix of our protocol ids (the DHT is `<prefix>/kad/1.0.0`). Default `/dsmp` (config's DEFAULT_PROTOCOL_PREFIX). */
  protocolPrefix?: string;
  /** Transports to enable. Default {@link ALL_TRANSPORTS}. Circuit relay is always on. */
  transports?: TransportName[];
  /** Listen multiaddrs. Default: every enabled transport on 0.0.0.0 at the default ports (transports.ts). */
  listen?: string[];
  /** Addresses to announce instead of the listen addresses (a public IP or DNS name behind a port forward). */
  announce?: string[];
  /**
   * STUN/TURN URLs for WebRTC's ICE. Default: none on LAN (host candidates suffice, and STUN
   * servers out of reach delay every WebRTC dial), the library's public STUN servers on WAN.
   */
  iceServers?: string[];
  /** Bootstrap peers: full multiaddrs ending in `/p2p/<id>`. */
  bootstrap?: string[];
  /** Default {@link BOOTSTRAP_DIAL_DELAY_MS}. */
  bootstrapDialDelayMs?: number;
  /** Where the known-peers cache lives. Without it, peers are not remembered across restarts. */
  dataDir?: string;
  /** Known-peers cache tuning (file is always `<dataDir>/known-peers.json`). */
  peerCache?: Omit<PeerPersistenceInit, "file" | "log">;
  dht?: DsmpDhtOptions;
  gossipsub?: DsmpGossipsubOptions;
  /** Serve as a circuit relay for others. Default off. */
  relay?: DsmpRelayServerOptions;
  /** Reserve on relays when not reachable. */
  relayClient?: DsmpRelayClientOptions;
  /** AutoNAT (confirm our public addresses) and DCUtR (hole punching). Default on for WAN, off for LAN. */
  nat?: { autonat?: boolean; dcutr?: boolean };
  /** Allow/deny rules for dials and inbound connections. Default: allow all. */
  connectionGater?: ConnectionGater;
  /** Start the node before returning. Default true. */
  start?: boolean;
  /** Aborting stops the node. */
  signal?: AbortSignal;
  /** The p2p layer's logger (e.g. `root.child({ module: "p2p" })`). Default: silent. */
  log?: DsmpLogger;
}

/** Services on the node (`node.libp2p.services.*`). Optional ones depend on init. */
export interface DsmpServices {
  [name: string]: unknown;
  identify: Identify;
  ping: Ping;
  dht: KadDHT;
  pubsub: GossipSub;
  peerPersistence?: PeerPersistence;
  /** Present when the node has bootstrap peers: re-dials them while the node has no connection. */
  bootstrapRedial?: BootstrapRedial;
  relay?: CircuitRelayService;
  relayReservation?: AutoRelayReservation;
  autonat?: unknown;
  dcutr?: unknown;
}

/** A DSMP libp2p node. */
export interface DsmpLibp2p {
  /** The libp2p node (dial, handle protocols, services). Prefer {@link DsmpLibp2p.stop} over `libp2p.stop()`. */
  readonly libp2p: Libp2p<DsmpServices>;
  readonly peerId: PeerId;
  readonly network: NetworkMode;
  /** Validated put/get of DHT records in the namespaces of `init.dht.validators`. */
  readonly records: DhtRecordStore;
  /** Starts (or restarts) the node; no-op when started. */
  start(): Promise<void>;
  /** Stops the node: flushes the known-peers cache, closes connections and listeners. Idempotent; concurrent calls share one stop. */
  stop(): Promise<void>;
}

/**
 * Builds (and by default starts) the libp2p node of an Xnode.
 *
 * @throws when a listen address cannot be bound (the partly started node is stopped first).
 */
export async function createDsmpLibp2p(init: DsmpLibp2pInit): Promise<DsmpLibp2p> {
  init = { ...init, log: init.log ?? createSilentLogger() };
  const options = libp2pOptionsFor(init);
  const libp2p = await createLibp2p<DsmpServices>({ ...options, start: false });
  const node = wrapNode(libp2p, init);
  if (init.start ?? true) await node.start();
  return node;
}

/**
 * The `createLibp2p` options for an init (exported for inspection and tests; most callers want
 * {@link createDsmpLibp2p}).
 */
export function libp2pOptionsFor(init: DsmpLibp2pInit): Libp2pOptions<DsmpServices> {
  const network = init.network ?? "wan";
  const log = init.log ?? createSilentLogger();
  const transports = init.transports ?? [...ALL_TRANSPORTS];
  const reserve = init.relayClient?.reserve ?? (network === "wan" ? "auto" : "never");
  const listen = [
    ...(init.listen ?? listenAddressesFor("0.0.0.0", transports)),
    ...(reserve === "always" ? ["/p2p-circuit"] : []),
    ...(init.relayClient?.relays ?? []).map((relay) => `${relay}/p2p-circuit`),
  ];
  const iceServers = init.iceServers ?? (network === "lan" ? [] : undefined);
  const dht = init.dht ?? {};
  const dhtMode = dht.serverMode ?? "server";

  const services: NonNullable<Libp2pOptions<DsmpServices>["services"]> = {
    identify: identify(),
    ping: ping({
      maxInboundStreams: PING_MAX_STREAMS_PER_CONNECTION,
      maxOutboundStreams: PING_MAX_STREAMS_PER_CONNECTION,
    }),
    dht: kadDHT({
      protocol: kadProtocolFor(init.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX),
      clientMode: dhtMode === "auto" ? undefined : dhtMode === "client",
      peerInfoMapper: network === "lan" ? passthroughMapper : removePrivateAddressesMapper,
      validators: dht.validators ?? {},
      selectors: dht.selectors ?? {},
      initialQuerySelfInterval: dht.initialQuerySelfIntervalMs ?? DHT_INITIAL_QUERY_SELF_INTERVAL_MS,
      alpha: dht.alpha ?? DHT_ALPHA,
      disjointPaths: dht.disjointPaths ?? DHT_DISJOINT_PATHS,
      ...(dht.querySelfIntervalMs === undefined ? {} : { querySelfInterval: dht.querySelfIntervalMs }),
      logPrefix: "libp2p:dsmp-kad",
      metricsPrefix: "libp2p_dsmp_kad",
    }),
    pubsub: gossipsub({ ...init.gossipsub, globalSignaturePolicy: StrictSign }),
  };
  if (init.dataDir !== undefined) {
    services.peerPersistence = peerPersistence({ ...init.peerCache, file: join(init.dataDir, KNOWN_PEERS_FILE), log });
  }
  if (init.relay?.enabled === true) {
    const relay = init.relay;
    services.relay = circuitRelayServer({
      reservations: {
        maxReservations: relay.maxReservations ?? RELAY_MAX_RESERVATIONS,
        reservationTtl: relay.reservationTtlMs ?? RELAY_RESERVATION_TTL_MS,
        applyDefaultLimit: relay.applyConnectionLimits ?? true,
        defaultDurationLimit: relay.connectionDurationLimitMs ?? RELAY_CONNECTION_DURATION_LIMIT_MS,
        defaultDataLimit: relay.connectionDataLimitBytes ?? RELAY_CONNECTION_DATA_LIMIT_BYTES,
      },
    });
  }
  const natDefault = network === "wan";
  if (init.nat?.autonat ?? natDefault) services.autonat = autoNAT();
  if (init.nat?.dcutr ?? natDefault) services.dcutr = dcutr();
  if (reserve === "auto") {
    services.relayReservation = autoRelayReservation({
      ...(init.relayClient?.autoGraceMs === undefined ? {} : { graceMs: init.relayClient.autoGraceMs }),
      log,
    });
  }

  const bootstrapList = init.bootstrap ?? [];
  if (bootstrapList.length > 0) services.bootstrapRedial = bootstrapRedial({ list: bootstrapList, log });
  return {
    privateKey: init.privateKey,
    nodeInfo: { name: "dsmp-xnode" },
    addresses: { listen, ...(init.announce === undefined ? {} : { announce: init.announce }) },
    transports: createTransports(transports, {
      ...(iceServers === undefined ? {} : { iceServers }),
    }),
    connectionEncrypters: [withCoalescedWrites(noise({ crypto: noiseCrypto }))],
    streamMuxers: [withLazyWindowUpdates(yamux({ streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW_BYTES } }))],
    ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
    peerDiscovery:
      bootstrapList.length > 0
        ? [bootstrap({ list: bootstrapList, timeout: init.bootstrapDialDelayMs ?? BOOTSTRAP_DIAL_DELAY_MS })]
        : [],
    services,
  };
}

function wrapNode(libp2p: Libp2p<DsmpServices>, init: DsmpLibp2pInit): DsmpLibp2p {
  const log = init.log ?? createSilentLogger();
  let stopping: Promise<void> | undefined;
  const onAbort = (): void => {
    void node.stop().catch((err: unknown) => log.error({ err }, "stopping the libp2p node on abort failed"));
  };
  const node: DsmpLibp2p = {
    libp2p,
    peerId: libp2p.peerId,
    network: init.network ?? "wan",
    records: createDhtRecordStore({ dht: libp2p.services.dht, validators: init.dht?.validators ?? {} }),
    async start() {
      if (init.signal?.aborted === true) throw init.signal.reason;
      if (stopping !== undefined) await stopping;
      stopping = undefined;
      await libp2p.start();
      init.signal?.addEventListener("abort", onAbort, { once: true });
      log.info(
        { peerId: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(String), network: node.network },
        "libp2p node started",
      );
    },
    stop() {
      stopping ??= (async () => {
        init.signal?.removeEventListener("abort", onAbort);
        await libp2p.stop();
        log.info({ peerId: libp2p.peerId.toString() }, "libp2p node stopped");
      })();
      return stopping;
    },
  };
  return node;
}

/**
 * The part of {@link DsmpLibp2pInit} the resolved config decides (`config.node`, `config.p2p`);
 * the composition root adds the key, the record validators/selectors, the logger and the signal.
 *
 * @example
 * const node = await createDsmpLibp2p({
 *   ...libp2pInitFromConfig(config),
 *   privateKey: identity.privateKey,
 *   dht: { validators, selectors },
 *   log: log.child({ module: "p2p" }),
 * })
 */
export function libp2pInitFromConfig(
  config: { node: Pick<NodeOptions, "dataDir">; p2p: P2pOptions },
): Omit<DsmpLibp2pInit, "privateKey"> {
  return {
    network: config.p2p.dhtMode,
    protocolPrefix: config.p2p.protocolPrefix,
    listen: config.p2p.listen,
    ...(config.p2p.announce.length > 0 ? { announce: config.p2p.announce } : {}),
    bootstrap: config.p2p.bootstrap,
    dataDir: config.node.dataDir,
  };
}
