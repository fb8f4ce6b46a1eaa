/**
 * Known peers survive restarts: a libp2p service that records the peers we connect to in a small
 * JSON file (`peer-cache.ts`) and, on start, puts them back in the peer store and dials them — so a
 * restarted Xnode rejoins the mesh even when its bootstrap list is empty or its bootstrap peers
 * are gone.
 *
 * Writes: shortly after a connection (debounced, so the burst of connects at start-up costs one
 * write), every {@link PEER_CACHE_FLUSH_INTERVAL_MS} to pick up changed addresses, and on stop.
 */
import type {
  AbortOptions,
  ComponentLogger,
  Connection,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerStore,
  Startable,
  TypedEventTarget,
} from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import {
  DEFAULT_PEER_CACHE_LIMITS,
  readPeerCacheFile,
  recordSeenPeers,
  writePeerCacheFile,
  type PeerCacheEntry,
  type PeerCacheLimits,
} from "./peer-cache.ts";
import { createSilentLogger, type Logger as DsmpLogger } from "../log.ts";

/**
 * How often the cache is rewritten while running (ms). Addresses change slowly (a relay
 * reservation, a NAT mapping); a minute bounds what a crash loses at one small write a minute.
 */
export const PEER_CACHE_FLUSH_INTERVAL_MS = 60_000;

/**
 * Delay between a new connection and the write it triggers (ms). Start-up brings tens of
 * connections within a second; one write for all of them, at the price of losing a peer met less
 * than this long before a crash.
 */
export const PEER_CACHE_FLUSH_DEBOUNCE_MS = 1_000;

/**
 * Known peers dialled on start, most recently seen first. A few live peers are enough to rejoin
 * the DHT (its self-query finds the rest); dialling all of a stale cache wastes time and sockets.
 */
export const PEER_CACHE_START_DIALS = 16;

/** Start-up dials in flight at once: fast rejoin without a burst of handshakes. */
export const PEER_CACHE_DIAL_CONCURRENCY = 4;

/** Bound on each start-up dial (ms); a cached peer that is gone should not hold a dial slot long. */
export const PEER_CACHE_DIAL_TIMEOUT_MS = 10_000;

/** Options for {@link peerPersistence}. */
export interface PeerPersistenceInit {
  /** Path of the cache file, e.g. `<dataDir>/known-peers.json`. */
  file: string;
  flushIntervalMs?: number;
  flushDebounceMs?: number;
  maxStartDials?: number;
  dialConcurrency?: number;
  dialTimeoutMs?: number;
  limits?: PeerCacheLimits;
  /** Clock (ms since the epoch); injectable for tests. */
  now?: () => number;
  log?: DsmpLogger;
}

/** The libp2p components this service uses. */
export interface PeerPersistenceComponents {
  peerId: PeerId;
  peerStore: PeerStore;
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[];
    openConnection(peer: PeerId, options?: AbortOptions): Promise<Connection>;
  };
  events: TypedEventTarget<Libp2pEvents>;
  logger: ComponentLogger;
}

/** Outcome of the start-up dials. */
export interface PeerRestoreResult {
  /** Peers read from the cache file. */
  known: number;
  /** Peers we tried to dial. */
  dialled: number;
  /** Of those, peers we connected to. */
  connected: number;
}

/** The service's own API (`libp2p.services.peerPersistence`). */
export interface PeerPersistence {
  /** Writes the cache now; resolves when the write is on disk. */
  flush(): Promise<void>;
  /** The cache as it was last written or loaded. */
  knownPeers(): PeerCacheEntry[];
  /** Settles when the start-up dials of the current run are done. */
  restored(): Promise<PeerRestoreResult>;
}

class PeerPersistenceService implements PeerPersistence, Startable {
  readonly [Symbol.toStringTag] = "@dsmp/peer-persistence";
  private readonly components: PeerPersistenceComponents;
  private readonly init: PeerPersistenceInit;
  private readonly debug: Logger;
  private readonly log: DsmpLogger;
  private readonly now: () => number;
  private entries: PeerCacheEntry[] = [];
  private readonly recentlyConnected = new Set<string>();
  private writing: Promise<void> = Promise.resolve();
  private debounceTimer: ReturnType<typeof setTimeout> | undefined;
  private intervalTimer: ReturnType<typeof setInterval> | undefined;
  private stopController = new AbortController();
  private restoring: Promise<PeerRestoreResult> = Promise.resolve({ known: 0, dialled: 0, connected: 0 });
  private running = false;

  constructor(components: PeerPersistenceComponents, init: PeerPersistenceInit) {
    this.components = components;
    this.init = init;
    this.debug = components.logger.forComponent("dsmp:peer-persistence");
    this.log = init.log ?? createSilentLogger();
    this.now = init.now ?? Date.now;
  }

  isStarted(): boolean {
    return this.running;
  }

  start(): void {
    this.running = true;
    this.stopController = new AbortController();
    this.components.events.addEventListener("peer:connect", this.onPeerConnect);
    this.components.events.addEventListener("peer:identify", this.onPeerIdentify);
  }

  afterStart(): void {
    this.restoring = this.restore(this.stopController.signal);
    this.intervalTimer = setInterval(() => {
      void this.flush();
    }, this.init.flushIntervalMs ?? PEER_CACHE_FLUSH_INTERVAL_MS);
    this.intervalTimer.unref?.();
  }

  async beforeStop(): Promise<void> {
    // Record while the connections are still open; the transports close them right after this.
    this.stopController.abort();
    clearTimeout(this.debounceTimer);
    clearInterval(this.intervalTimer);
    this.components.events.removeEventListener("peer:connect", this.onPeerConnect);
    this.components.events.removeEventListener("peer:identify", this.onPeerIdentify);
    await this.restoring.catch(() => undefined);
    // a failed write is logged by flush(); it must not stop the node from stopping
    await this.flush().catch(() => undefined);
  }

  stop(): void {
    this.running = false;
  }

  knownPeers(): PeerCacheEntry[] {
    return this.entries.map((entry) => ({ ...entry, addrs: [...entry.addrs] }));
  }

  restored(): Promise<PeerRestoreResult> {
    return this.restoring;
  }

  flush(): Promise<void> {
    const write = this.writing.then(async () => {
      const seen = await this.collectSeenPeers();
      this.entries = recordSeenPeers(this.entries, seen, this.now(), this.init.limits ?? DEFAULT_PEER_CACHE_LIMITS);
      await writePeerCacheFile(this.init.file, this.entries);
      this.debug("wrote %d known peers to %s", this.entries.length, this.init.file);
    });
    this.writing = write.catch((err: unknown) => {
      this.log.warn({ err, file: this.init.file }, "could not write the known-peers cache");
    });
    return write;
  }

  private readonly onPeerConnect = (event: CustomEvent<PeerId>): void => {
    this.noteConnected(event.detail);
  };

  private readonly onPeerIdentify = (event: Libp2pEvents["peer:identify"]): void => {
    // identify brings the peer's listen addresses; the first write may have had none for an inbound peer
    this.noteConnected(event.detail.peerId);
  };

  private noteConnected(peerId: PeerId): void {
    this.recentlyConnected.add(peerId.toString());
    if (this.debounceTimer !== undefined || !this.running) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.flush().catch(() => undefined);
    }, this.init.flushDebounceMs ?? PEER_CACHE_FLUSH_DEBOUNCE_MS);
    this.debounceTimer.unref?.();
  }

  /** Peers connected now or since the last write, with the addresses we could dial them at. */
  private async collectSeenPeers(): Promise<Array<{ id: string; addrs: string[] }>> {
    const outboundAddrs = new Map<string, string[]>();
    for (const connection of this.components.connectionManager.getConnections()) {
      const id = connection.remotePeer.toString();
      this.recentlyConnected.add(id);
      // an address we dialled successfully is dialable even if the peer store has not learnt it
      if (connection.direction === "outbound") {
        outboundAddrs.set(id, [...(outboundAddrs.get(id) ?? []), withoutPeerId(connection.remoteAddr.toString(), id)]);
      }
    }
    const seen: Array<{ id: string; addrs: string[] }> = [];
    for (const id of this.recentlyConnected) {
      let stored: string[] = [];
      try {
        const peer = await this.components.peerStore.get(peerIdFromString(id));
        stored = peer.addresses.map((address) => withoutPeerId(address.multiaddr.toString(), id));
      } catch {
        // not in the peer store (evicted): fall back to what we dialled
      }
      seen.push({ id, addrs: [...stored, ...(outboundAddrs.get(id) ?? [])] });
    }
    this.recentlyConnected.clear();
    return seen;
  }

  /** Loads the cache file, seeds the peer store and dials the most recently seen peers. */
  private async restore(signal: AbortSignal): Promise<PeerRestoreResult> {
    try {
      this.entries = await readPeerCacheFile(this.init.file);
    } catch (err) {
      this.log.warn({ err, file: this.init.file }, "ignoring unreadable known-peers cache");
      this.entries = [];
    }
    const self = this.components.peerId.toString();
    const candidates: PeerId[] = [];
    for (const entry of this.entries) {
      if (entry.id === self) continue;
      try {
        const peerId = peerIdFromString(entry.id);
        await this.components.peerStore.merge(peerId, { multiaddrs: entry.addrs.map((addr) => multiaddr(addr)) });
        candidates.push(peerId);
      } catch (err) {
        this.debug("skipping cached peer %s: %e", entry.id, err);
      }
    }
    const toDial = candidates.slice(0, this.init.maxStartDials ?? PEER_CACHE_START_DIALS);
    const connected = await this.dialAll(toDial, signal);
    const result = { known: this.entries.length, dialled: toDial.length, connected };
    this.log.info(result, "reconnected to known peers");
    return result;
  }

  private async dialAll(peers: PeerId[], signal: AbortSignal): Promise<number> {
    let next = 0;
    let connected = 0;
    const timeoutMs = this.init.dialTimeoutMs ?? PEER_CACHE_DIAL_TIMEOUT_MS;
    const worker = async (): Promise<void> => {
      while (next < peers.length && !signal.aborted) {
        const peerId = peers[next++]!;
        try {
          await this.components.connectionManager.openConnection(peerId, {
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
          });
          connected++;
        } catch (err) {
          this.debug("could not reach known peer %p: %e", peerId, err);
        }
      }
    };
    const concurrency = Math.max(1, this.init.dialConcurrency ?? PEER_CACHE_DIAL_CONCURRENCY);
    await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, worker));
    return connected;
  }
}

/**
 * The known-peers service factory, for `createLibp2p({ services: { peerPersistence: peerPersistence({ file }) } })`.
 *
 * @example
 * const node = await createLibp2p({ …, services: { peerPersistence: peerPersistence({ file: "/var/lib/dsmp/known-peers.json" }) } })
 * const { connected } = await node.services.peerPersistence.restored()
 */
export function peerPersistence(init: PeerPersistenceInit): (components: PeerPersistenceComponents) => PeerPersistence {
  return (components) => new PeerPersistenceService(components, init);
}

function withoutPeerId(address: string, id: string): string {
  const suffix = `/p2p/${id}`;
  return address.endsWith(suffix) ? address.slice(0, -suffix.length) : address;
}
