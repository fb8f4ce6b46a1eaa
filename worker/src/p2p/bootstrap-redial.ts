/**
 * Keeps a node from staying alone: `@libp2p/bootstrap` dials each bootstrap peer once, at start. If that dial
 * fails — the bootstrap peer is still starting, or restarting; or a start-up dial of the same peer at a stale
 * cached address (peer-persistence.ts) was in flight and the bootstrap dial joined it — nothing dials again and
 * the node stays without peers until someone dials it. This service re-dials the bootstrap multiaddrs (by
 * address, so a stale peer-store entry cannot swallow the dial) while the node has no connection at all, with
 * exponential backoff from {@link BOOTSTRAP_REDIAL_MIN_MS} to {@link BOOTSTRAP_REDIAL_MAX_MS}; it rests while
 * the node has any connection and starts over, from the shortest delay, when the last one closes.
 */
import type { AbortOptions, Connection, Libp2pEvents, Startable, TypedEventTarget } from "@libp2p/interface";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { createSilentLogger, type Logger as DsmpLogger } from "../log.ts";

/** First re-dial delay after the node finds itself without connections (ms). */
export const BOOTSTRAP_REDIAL_MIN_MS = 1_000;
/** Longest delay between re-dials (ms): a node alone for a while still tries every minute. */
export const BOOTSTRAP_REDIAL_MAX_MS = 60_000;
/** Bound on one re-dial (ms). */
export const BOOTSTRAP_REDIAL_TIMEOUT_MS = 10_000;

/** Delay before re-dial number `attempt` (0-based): min · 2^attempt, capped at max. Pure. */
export function bootstrapRedialDelay(attempt: number, minMs = BOOTSTRAP_REDIAL_MIN_MS, maxMs = BOOTSTRAP_REDIAL_MAX_MS): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

export interface BootstrapRedialInit {
  /** Bootstrap multiaddrs, each ending in `/p2p/<peerId>`. */
  list: string[];
  minMs?: number;
  maxMs?: number;
  timeoutMs?: number;
  log?: DsmpLogger;
}

export interface BootstrapRedialComponents {
  connectionManager: {
    getConnections(): Connection[];
    openConnection(peer: Multiaddr, options?: AbortOptions): Promise<Connection>;
  };
  events: TypedEventTarget<Libp2pEvents>;
}

/** The service's own API (`libp2p.services.bootstrapRedial`). */
export interface BootstrapRedial {
  /** Re-dials made since start (each bootstrap address counts once per round). */
  readonly redials: number;
}

class BootstrapRedialService implements BootstrapRedial, Startable {
  readonly [Symbol.toStringTag] = "@dsmp/bootstrap-redial";
  redials = 0;
  private readonly addrs: Multiaddr[];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private running = false;
  private stopController = new AbortController();
  private readonly log: DsmpLogger;
  private readonly components: BootstrapRedialComponents;
  private readonly init: BootstrapRedialInit;

  constructor(components: BootstrapRedialComponents, init: BootstrapRedialInit) {
    this.components = components;
    this.init = init;
    this.addrs = init.list.map((a) => multiaddr(a));
    this.log = init.log ?? createSilentLogger();
  }

  start(): void {
    if (this.addrs.length === 0) return;
    this.running = true;
    this.stopController = new AbortController();
    this.components.events.addEventListener("peer:disconnect", this.onDisconnect);
    // @libp2p/bootstrap makes the first dial; check after the first delay whether it worked.
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.stopController.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.components.events.removeEventListener("peer:disconnect", this.onDisconnect);
  }

  private readonly onDisconnect = (): void => {
    if (!this.running || this.timer !== undefined) return;
    if (this.components.connectionManager.getConnections().length === 0) {
      this.attempt = 0;
      this.schedule();
    }
  };

  private schedule(): void {
    clearTimeout(this.timer);
    const delay = bootstrapRedialDelay(this.attempt, this.init.minMs, this.init.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delay);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    if (this.components.connectionManager.getConnections().length > 0) {
      // Connected: rest until the last connection closes (onDisconnect).
      this.attempt = 0;
      return;
    }
    this.log.info({ attempt: this.attempt + 1, bootstrap: this.init.list }, "no peers: dialling the bootstrap peers again");
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.init.timeoutMs ?? BOOTSTRAP_REDIAL_TIMEOUT_MS)]);
    await Promise.allSettled(
      this.addrs.map(async (addr) => {
        this.redials++;
        await this.components.connectionManager.openConnection(addr, { signal });
      }),
    );
    if (!this.running) return;
    this.attempt++;
    if (this.components.connectionManager.getConnections().length === 0) this.schedule();
    else this.attempt = 0;
  }
}

/** A libp2p service: `services: { bootstrapRedial: bootstrapRedial({ list }) }`. */
export function bootstrapRedial(init: BootstrapRedialInit): (components: BootstrapRedialComponents) => BootstrapRedial {
  return (components) => new BootstrapRedialService(components, init);
}
