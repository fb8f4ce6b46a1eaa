/**
 * Reserve a slot on a circuit relay only when this node is not publicly reachable.
 *
 * js-libp2p reserves on a relay whenever `/p2p-circuit` is among the listen addresses, reachable
 * or not. A publicly reachable Xnode should not take a slot it does not need (relays give few),
 * so this service waits for AutoNAT to confirm a public address and, if none is confirmed after a
 * grace period, starts listening on `/p2p-circuit` (relay discovery + reservation). While the node
 * is reachable it re-checks periodically, since reachability can be lost (a changed NAT, a closed
 * port); once it searches for relays it keeps its reservations (the relay transport renews them).
 *
 * The decision is a pure function ({@link reachabilityOf}) over the address manager's view.
 */
import type { ComponentLogger, Logger, Startable } from "@libp2p/interface";
import { isPrivate } from "@libp2p/utils";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { createSilentLogger, type Logger as DsmpLogger } from "../log.ts";

/**
 * Time given to AutoNAT to confirm a public address before we fall back to a relay (ms). AutoNAT
 * starts after ~5 s and needs a few peers to dial us back; 30 s lets it finish on a young node at
 * the cost of being unreachable for that long when we are in fact behind NAT.
 */
export const RELAY_AUTO_RESERVE_GRACE_MS = 30_000;

/** How often reachability is re-checked after the grace period (ms). */
export const RELAY_AUTO_RESERVE_CHECK_INTERVAL_MS = 60_000;

/** One of our own addresses as the address manager reports it. */
export interface OwnAddress {
  multiaddr: Multiaddr;
  /** Confirmed dialable (by AutoNAT, or a listen address of a bound interface). */
  verified: boolean;
}

/** How others can reach us. */
export type Reachability = "public" | "relayed" | "unreachable";

/**
 * `public` when a verified, non-private, non-relayed address exists; else `relayed` when we hold
 * a relay reservation (a `/p2p-circuit` address); else `unreachable`.
 *
 * @example
 * reachabilityOf([{ multiaddr: multiaddr("/ip4/192.168.1.5/tcp/4100"), verified: true }]) // "unreachable"
 */
export function reachabilityOf(addresses: readonly OwnAddress[]): Reachability {
  let relayed = false;
  for (const address of addresses) {
    if (isCircuit(address.multiaddr)) {
      relayed = true;
      continue;
    }
    if (address.verified && !isPrivate(address.multiaddr)) return "public";
  }
  return relayed ? "relayed" : "unreachable";
}

/** Options for {@link autoRelayReservation}. */
export interface AutoRelayReservationInit {
  graceMs?: number;
  checkIntervalMs?: number;
  log?: DsmpLogger;
}

/** The libp2p components this service uses. */
export interface AutoRelayReservationComponents {
  addressManager: { getAddressesWithMetadata(): OwnAddress[] };
  transportManager: { listen(addrs: Multiaddr[]): Promise<void> };
  logger: ComponentLogger;
}

/** The service's own API (`libp2p.services.relayReservation`). */
export interface AutoRelayReservation {
  /** Checks reachability now and starts relay discovery if we are unreachable; returns what it saw. */
  check(): Promise<Reachability>;
  /** True once this service has started listening on `/p2p-circuit`. */
  readonly searching: boolean;
}

class AutoRelayReservationService implements AutoRelayReservation, Startable {
  readonly [Symbol.toStringTag] = "@dsmp/auto-relay-reservation";
  private readonly components: AutoRelayReservationComponents;
  private readonly init: AutoRelayReservationInit;
  private readonly debug: Logger;
  private readonly log: DsmpLogger;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  searching = false;

  constructor(components: AutoRelayReservationComponents, init: AutoRelayReservationInit) {
    this.components = components;
    this.init = init;
    this.debug = components.logger.forComponent("dsmp:auto-relay-reservation");
    this.log = init.log ?? createSilentLogger();
  }

  isStarted(): boolean {
    return this.running;
  }

  start(): void {
    this.running = true;
  }

  afterStart(): void {
    this.schedule(this.init.graceMs ?? RELAY_AUTO_RESERVE_GRACE_MS);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  async check(): Promise<Reachability> {
    const reachability = reachabilityOf(this.components.addressManager.getAddressesWithMetadata());
    this.debug("reachability %s", reachability);
    if (reachability === "unreachable" && !this.searching && this.running) {
      this.searching = true;
      this.log.info({}, "not publicly reachable: looking for a circuit relay to reserve on");
      await this.components.transportManager.listen([multiaddr("/p2p-circuit")]);
    }
    return reachability;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.check()
        .catch((err: unknown) => {
          this.searching = false;
          this.log.warn({ err }, "could not start relay discovery");
        })
        .finally(() => {
          if (!this.searching) this.schedule(this.init.checkIntervalMs ?? RELAY_AUTO_RESERVE_CHECK_INTERVAL_MS);
        });
    }, delayMs);
    this.timer.unref?.();
  }
}

/**
 * The auto relay reservation service factory (WAN nodes; pair with `autoNAT()`).
 *
 * @example
 * services: { autonat: autoNAT(), relayReservation: autoRelayReservation({ graceMs: 30_000 }) }
 */
export function autoRelayReservation(
  init: AutoRelayReservationInit = {},
): (components: AutoRelayReservationComponents) => AutoRelayReservation {
  return (components) => new AutoRelayReservationService(components, init);
}

function isCircuit(address: Multiaddr): boolean {
  return address.toString().includes("/p2p-circuit");
}
