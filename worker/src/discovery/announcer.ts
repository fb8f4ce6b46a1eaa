/**
 * Service announcer: makes this Xnode findable as a provider of every service it serves (docs/protocol.md
 * §7). One round per service:
 *  1. sign a fresh service record (`seq = max(previous + 1, unix ms)`, expiring `recordLifetimeMs` ahead),
 *     validate it locally — kad-dht stores our own puts without running the validator — and `PUT_VALUE` it
 *     under the record key;
 *  2. `ADD_PROVIDER` under the service's provider key. The record goes first so a consumer that finds us
 *     as a provider also finds our record.
 * Rounds repeat after `reannounceFraction` of the lifetime (a failed round retries after `retryDelayMs`),
 * so a record is replaced long before it expires. Rounds of one service never overlap.
 *
 * Withdrawal is best effort, because Kademlia has no message that removes a provider entry from other
 * peers: we stop answering and re-providing locally (`cancelReprovide`) and publish a *withdrawal record* —
 * higher `seq`, no multiaddrs, expiring `withdrawalLifetimeMs` ahead — that replaces our record on the
 * peers holding it. Resolvers drop a provider whose newest record has no multiaddrs, and one without a
 * valid record at all, so the provider disappears from fresh lookups at once where the withdrawal record
 * landed, and at the latest when the previous record expires (`recordLifetimeMs`) elsewhere.
 */
import { EventEmitter } from "node:events";
import type { KadDHT } from "@libp2p/kad-dht";
import type { Address } from "viem";
import { DiscoveryNoAddressesError, DiscoveryStoppedError, RecordInvalidError } from "../errors.ts";
import type { NodeIdentity } from "../identity/node-identity.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { serviceProviderCid, serviceRecordKey } from "../p2p/dht-keys.ts";
import {
  encodeServiceRecord,
  MAX_LOAD_BPS,
  MAX_MULTIADDR_LENGTH,
  MAX_MULTIADDRS,
  SERVICE_RECORD_MAX_LIFETIME_SECONDS,
  signServiceRecord,
  validateServiceRecord,
  type ServiceRecord,
  type SignedServiceRecord,
} from "../p2p/service-record.ts";

/**
 * Lifetime of an announced record (ms). Short, because `load` and addresses go stale and a crashed node
 * must vanish from lookups soon; long enough that a round every few minutes keeps it alive with room
 * for failed rounds. At most {@link SERVICE_RECORD_MAX_LIFETIME_SECONDS}.
 */
export const RECORD_LIFETIME_MS = 10 * 60 * 1000;
/** Re-announce when this fraction of the lifetime has passed: half leaves the other half for retries. */
export const REANNOUNCE_FRACTION = 0.5;
/** Wait before retrying a failed round (ms): a DHT query over a bad link takes seconds; no hammering. */
export const ANNOUNCE_RETRY_DELAY_MS = 15 * 1000;
/** Bound on one round when the caller passes no signal (ms): two DHT queries with a few slow peers. */
export const ANNOUNCE_TIMEOUT_MS = 30 * 1000;
/**
 * Lifetime of a withdrawal record (ms): it must outlive clock skew between us and the DHT peers that
 * store it (a peer whose clock runs ahead by more refuses it), and disappears soon after.
 */
export const WITHDRAWAL_LIFETIME_MS = 60 * 1000;

/** Timer functions, injectable so tests fire re-announce rounds by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's timers, unref'd: a pending re-announce does not keep the process alive. */
export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A service this node serves, as it announces it. */
export interface AnnouncedService {
  serviceId: bigint;
  /** Version of the service this node runs (1–64 plain characters). */
  version: string;
  /** Informational price per call in the token's smallest unit. */
  pricePerCall: bigint;
  /** Current load in basis points (0–10000), read at every round; 0 when absent. */
  load?: () => number;
}

/** What the announcer uses of the libp2p node. */
export interface ServiceAnnouncerComponents {
  dht: Pick<KadDHT, "provide" | "put" | "cancelReprovide">;
  identity: Pick<NodeIdentity, "address" | "peerId" | "account">;
  /** The node's listen addresses as peers should dial them (libp2p's `getMultiaddrs`). */
  getMultiaddrs(): readonly { toString(): string }[];
}

export interface ServiceAnnouncerInit {
  chainId: number;
  /** The ServiceRegistry the records name. */
  registry: Address;
  /** @default {@link RECORD_LIFETIME_MS} */
  recordLifetimeMs?: number;
  /** @default {@link REANNOUNCE_FRACTION} */
  reannounceFraction?: number;
  /** @default {@link ANNOUNCE_RETRY_DELAY_MS} */
  retryDelayMs?: number;
  /** @default {@link ANNOUNCE_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @default {@link WITHDRAWAL_LIFETIME_MS} */
  withdrawalLifetimeMs?: number;
  /** Unix milliseconds. @default Date.now */
  clock?: () => number;
  /** @default {@link systemTimers} */
  timers?: Timers;
  logger?: Logger;
}

/** One published record. */
export interface AnnounceResult {
  serviceId: bigint;
  record: SignedServiceRecord;
  /** Peers that answered PUT_VALUE with our record (stored it). */
  storedOn: number;
  /** Peers sent the record that did not store it (refused by their validator, timed out, reset). */
  refusedBy: number;
  /** Peers that acknowledged ADD_PROVIDER. */
  providedTo: number;
  /** Wall time of the round (ms). */
  durationMs: number;
  /** When the next round is due (unix ms, announcer clock). */
  nextRoundAt: number;
}

export interface WithdrawResult {
  serviceId: bigint;
  /** The withdrawal record, or `undefined` when nothing had been published. */
  record: SignedServiceRecord | undefined;
  storedOn: number;
  refusedBy: number;
}

export interface ServiceAnnouncerEvents {
  announced: [AnnounceResult];
  /** A round failed; the next one is scheduled `retryDelayMs` later. */
  failed: [{ serviceId: bigint; error: unknown }];
  withdrawn: [WithdrawResult];
}

export type ServiceAnnouncerStatus = "running" | "stopping" | "stopped";

export interface ServiceAnnouncer extends EventEmitter<ServiceAnnouncerEvents> {
  readonly status: ServiceAnnouncerStatus;
  /**
   * Serve `service`: publish now (a new round, also to push a changed version, price or load at once) and
   * keep re-announcing until withdrawn.
   * @throws {DiscoveryStoppedError} after `stop()`; {@link DiscoveryNoAddressesError} when the node has no
   *   address to announce (retried, like any failed round); `RecordInvalidError` when the record would be
   *   invalid, e.g. a bad version: retrying cannot help, so the announcer goes back to the service as last
   *   published, or drops it when it never was.
   */
  announce(service: AnnouncedService, options?: { signal?: AbortSignal }): Promise<AnnounceResult>;
  /** Stop serving `serviceId`: no more rounds, and a withdrawal record. `undefined` when not announced. */
  withdraw(serviceId: bigint, options?: { signal?: AbortSignal }): Promise<WithdrawResult | undefined>;
  /** The newest record published per service. */
  records(): SignedServiceRecord[];
  /** Withdraw every service and stop; idempotent. Errors of one withdrawal do not skip the others. */
  stop(options?: { signal?: AbortSignal }): Promise<void>;
}

/** `max(previous + 1, nowMs)`: strictly increasing, and above anything a previous run used (docs/protocol.md §3.1). */
export function nextSeq(previous: bigint | undefined, nowMs: number): bigint {
  const now = BigInt(Math.floor(nowMs));
  return previous === undefined || now > previous ? now : previous + 1n;
}

const PLAIN_MULTIADDR = new RegExp(`^/[\\x21\\x23-\\x5b\\x5d-\\x7e]{0,${MAX_MULTIADDR_LENGTH - 1}}$`);

/** The addresses a record can carry: distinct, plain-character multiaddr strings, at most {@link MAX_MULTIADDRS}. */
export function advertisableMultiaddrs(addresses: readonly { toString(): string }[]): string[] {
  const out = new Set<string>();
  for (const address of addresses) {
    const text = address.toString();
    if (PLAIN_MULTIADDR.test(text)) out.add(text);
    if (out.size === MAX_MULTIADDRS) break;
  }
  return [...out];
}

/**
 * @example
 * const announcer = createServiceAnnouncer({ chainId, registry })({
 *   dht: libp2p.services.dht, identity, getMultiaddrs: () => libp2p.getMultiaddrs(),
 * });
 * await announcer.announce({ serviceId: 1n, version: "1.2.0", pricePerCall: 10n ** 15n, load: () => meter.loadBps() });
 * // …
 * await announcer.stop(); // withdraws
 */
export function createServiceAnnouncer(init: ServiceAnnouncerInit): (components: ServiceAnnouncerComponents) => ServiceAnnouncer {
  const lifetimeMs = init.recordLifetimeMs ?? RECORD_LIFETIME_MS;
  const fraction = init.reannounceFraction ?? REANNOUNCE_FRACTION;
  const withdrawalMs = init.withdrawalLifetimeMs ?? WITHDRAWAL_LIFETIME_MS;
  if (!(lifetimeMs >= 2000 && lifetimeMs <= SERVICE_RECORD_MAX_LIFETIME_SECONDS * 1000)) {
    throw new RangeError(`recordLifetimeMs must be within [2000, ${SERVICE_RECORD_MAX_LIFETIME_SECONDS * 1000}], got ${lifetimeMs}`);
  }
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`reannounceFraction must be in (0, 1), got ${fraction}`);
  if (!(withdrawalMs >= 1000 && withdrawalMs <= lifetimeMs)) {
    throw new RangeError(`withdrawalLifetimeMs must be within [1000, recordLifetimeMs], got ${withdrawalMs}`);
  }
  return (components) =>
    new Announcer(components, {
      chainId: init.chainId,
      registry: init.registry,
      lifetimeMs,
      reannounceMs: Math.floor(lifetimeMs * fraction),
      retryDelayMs: init.retryDelayMs ?? ANNOUNCE_RETRY_DELAY_MS,
      timeoutMs: init.timeoutMs ?? ANNOUNCE_TIMEOUT_MS,
      withdrawalMs,
      clock: init.clock ?? Date.now,
      timers: init.timers ?? systemTimers,
      log: (init.logger ?? createSilentLogger()).child({ module: "discovery", component: "announcer" }),
    });
}

interface AnnouncerSettings {
  chainId: number;
  registry: Address;
  lifetimeMs: number;
  reannounceMs: number;
  retryDelayMs: number;
  timeoutMs: number;
  withdrawalMs: number;
  clock: () => number;
  timers: Timers;
  log: Logger;
}

/** Per-service state. */
interface Announcement {
  service: AnnouncedService;
  /** The service as last published successfully (restored when an update turns out invalid). */
  published: AnnouncedService | undefined;
  record: SignedServiceRecord | undefined;
  timer: unknown;
  /** Tail of this service's rounds: each round starts after the previous settles. */
  tail: Promise<unknown>;
}

class Announcer extends EventEmitter<ServiceAnnouncerEvents> implements ServiceAnnouncer {
  private readonly components: ServiceAnnouncerComponents;
  private readonly settings: AnnouncerSettings;
  private readonly announcements = new Map<bigint, Announcement>();
  /** Aborts every round in flight on stop. */
  private readonly root = new AbortController();
  private state: ServiceAnnouncerStatus = "running";
  private stopping: Promise<void> | undefined;
  /** Last seq used per service; survives a withdraw + re-announce of the same service within this run. */
  private readonly lastSeqs = new Map<bigint, bigint>();

  constructor(components: ServiceAnnouncerComponents, settings: AnnouncerSettings) {
    super();
    this.components = components;
    this.settings = settings;
  }

  get status(): ServiceAnnouncerStatus {
    return this.state;
  }

  announce(service: AnnouncedService, options: { signal?: AbortSignal } = {}): Promise<AnnounceResult> {
    if (this.state !== "running") return Promise.reject(new DiscoveryStoppedError("announcer"));
    let entry = this.announcements.get(service.serviceId);
    if (entry === undefined) {
      entry = { service, published: undefined, record: undefined, timer: undefined, tail: Promise.resolve() };
      this.announcements.set(service.serviceId, entry);
    }
    entry.service = service;
    this.clearTimer(entry);
    return this.enqueue(entry, () => this.round(entry, options.signal));
  }

  async withdraw(serviceId: bigint, options: { signal?: AbortSignal } = {}): Promise<WithdrawResult | undefined> {
    const entry = this.announcements.get(serviceId);
    if (entry === undefined) return undefined;
    this.announcements.delete(serviceId);
    this.clearTimer(entry);
    return this.enqueue(entry, () => this.publishWithdrawal(entry, options.signal ?? AbortSignal.timeout(this.settings.timeoutMs)));
  }

  records(): SignedServiceRecord[] {
    return [...this.announcements.values()].flatMap((entry) => (entry.record === undefined ? [] : [entry.record]));
  }

  stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.signal ?? AbortSignal.timeout(this.settings.timeoutMs));
    return this.stopping;
  }

  private async shutdown(signal: AbortSignal): Promise<void> {
    this.state = "stopping";
    for (const entry of this.announcements.values()) this.clearTimer(entry);
    this.root.abort(new DiscoveryStoppedError("announcer")); // rounds in flight end; withdrawals follow them
    const results = await Promise.allSettled([...this.announcements.keys()].map((id) => this.withdraw(id, { signal })));
    for (const result of results) {
      if (result.status === "rejected") this.settings.log.warn({ err: result.reason }, "withdrawal failed on stop");
    }
    this.state = "stopped";
  }

  private enqueue<T>(entry: Announcement, task: () => Promise<T>): Promise<T> {
    const run = entry.tail.then(task, task);
    entry.tail = run.catch(() => undefined);
    return run;
  }

  private clearTimer(entry: Announcement): void {
    if (entry.timer !== undefined) this.settings.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private schedule(entry: Announcement, delayMs: number): void {
    this.clearTimer(entry);
    if (this.state !== "running" || this.announcements.get(entry.service.serviceId) !== entry) return;
    entry.timer = this.settings.timers.setTimeout(() => {
      entry.timer = undefined;
      this.enqueue(entry, () => this.round(entry, undefined)).catch(() => undefined); // reported as `failed`
    }, delayMs);
  }

  /** One announce round; schedules the next (or a retry) unless stopped or withdrawn meanwhile. */
  private async round(entry: Announcement, callerSignal: AbortSignal | undefined): Promise<AnnounceResult> {
    const { serviceId } = entry.service;
    if (this.state !== "running" || this.announcements.get(serviceId) !== entry) throw new DiscoveryStoppedError("announcer");
    const signal = AbortSignal.any([this.root.signal, callerSignal ?? AbortSignal.timeout(this.settings.timeoutMs)]);
    try {
      const result = await this.publish(entry, signal);
      this.schedule(entry, this.settings.reannounceMs);
      const fields = { serviceId: String(serviceId), seq: String(result.record.seq), storedOn: result.storedOn, providedTo: result.providedTo };
      if (result.storedOn === 0) this.settings.log.warn(fields, "service record stored on no peer (only here): is the node connected?");
      else this.settings.log.debug(fields, "service announced");
      this.emit("announced", result);
      return result;
    } catch (error) {
      if (error instanceof RecordInvalidError && this.announcements.get(serviceId) === entry) {
        // The service's own fields are out of range (a version too long, a price too large): no retry fixes
        // that. Keep announcing what was valid before, if anything.
        if (entry.published === undefined) this.announcements.delete(serviceId);
        else {
          entry.service = entry.published;
          this.schedule(entry, this.settings.retryDelayMs);
        }
        throw error;
      }
      this.schedule(entry, this.settings.retryDelayMs);
      if (this.state === "running") {
        this.settings.log.warn({ serviceId: String(serviceId), err: error }, "announce round failed; retrying");
        this.emit("failed", { serviceId, error });
      }
      throw error;
    }
  }

  private async publish(entry: Announcement, signal: AbortSignal): Promise<AnnounceResult> {
    const started = performance.now();
    const { service } = entry;
    const multiaddrs = advertisableMultiaddrs(this.components.getMultiaddrs());
    if (multiaddrs.length === 0) {
      throw new DiscoveryNoAddressesError(`listen addresses: ${this.components.getMultiaddrs().join(", ") || "(none)"}`);
    }
    const nowMs = this.settings.clock();
    const record = await this.sign(entry, nowMs, {
      multiaddrs,
      version: service.version,
      load: Math.min(MAX_LOAD_BPS, Math.max(0, Math.round(service.load?.() ?? 0))),
      pricePerCall: service.pricePerCall,
      expiresAt: Math.floor(nowMs / 1000) + Math.ceil(this.settings.lifetimeMs / 1000),
    });
    const { storedOn, refusedBy } = await this.put(record, signal);
    let providedTo = 0;
    for await (const event of this.components.dht.provide(serviceProviderCid(record), { signal })) {
      if (event.name === "PEER_RESPONSE" && event.messageName === "ADD_PROVIDER") providedTo++;
    }
    entry.record = record;
    entry.published = service;
    return {
      serviceId: service.serviceId,
      record,
      storedOn,
      refusedBy,
      providedTo,
      durationMs: performance.now() - started,
      nextRoundAt: nowMs + this.settings.reannounceMs,
    };
  }

  private async publishWithdrawal(entry: Announcement, signal: AbortSignal): Promise<WithdrawResult> {
    const { serviceId } = entry.service;
    const cid = serviceProviderCid({ chainId: this.settings.chainId, registry: this.settings.registry, serviceId });
    await this.components.dht.cancelReprovide(cid, { signal });
    let result: WithdrawResult = { serviceId, record: undefined, storedOn: 0, refusedBy: 0 };
    if (entry.record !== undefined) {
      const nowMs = this.settings.clock();
      const record = await this.sign(entry, nowMs, {
        multiaddrs: [],
        version: entry.record.version,
        load: MAX_LOAD_BPS,
        pricePerCall: entry.record.pricePerCall,
        expiresAt: Math.floor(nowMs / 1000) + Math.ceil(this.settings.withdrawalMs / 1000),
      });
      result = { serviceId, record, ...(await this.put(record, signal)) };
      entry.record = undefined;
    }
    this.settings.log.debug({ serviceId: String(serviceId), storedOn: result.storedOn }, "service withdrawn");
    this.emit("withdrawn", result);
    return result;
  }

  /** Sign the next record of `entry` (advancing its seq) and check it as a DHT peer would. */
  private async sign(
    entry: Announcement,
    nowMs: number,
    fields: Pick<ServiceRecord, "multiaddrs" | "version" | "load" | "pricePerCall" | "expiresAt">,
  ): Promise<SignedServiceRecord> {
    const { identity } = this.components;
    const seq = nextSeq(this.lastSeqs.get(entry.service.serviceId), nowMs);
    this.lastSeqs.set(entry.service.serviceId, seq);
    const record = await signServiceRecord(
      {
        chainId: this.settings.chainId,
        registry: this.settings.registry,
        serviceId: entry.service.serviceId,
        node: identity.address,
        peerId: identity.peerId.toString(),
        seq,
        ...fields,
      },
      identity.account,
    );
    await validateServiceRecord(encodeServiceRecord(record), {
      now: Math.floor(nowMs / 1000),
      expectedKey: serviceRecordKey(record),
      chainId: this.settings.chainId,
      registry: this.settings.registry,
    });
    return record;
  }

  /** PUT_VALUE the record; counts who stored it. */
  private async put(record: SignedServiceRecord, signal: AbortSignal): Promise<{ storedOn: number; refusedBy: number }> {
    const bytes = encodeServiceRecord(record);
    const sentTo = new Set<string>();
    const stored = new Set<string>();
    for await (const event of this.components.dht.put(serviceRecordKey(record), bytes, { signal })) {
      if (event.name === "SEND_QUERY" && event.messageName === "PUT_VALUE") sentTo.add(event.to.toString());
      if (event.name === "PEER_RESPONSE" && event.messageName === "PUT_VALUE" && event.record !== undefined && equalBytes(event.record.value, bytes)) {
        stored.add(event.from.toString());
      }
    }
    return { storedOn: stored.size, refusedBy: sentTo.size - stored.size };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
