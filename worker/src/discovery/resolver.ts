/**
 * Service resolver: which Xnodes serve a service, where to dial them, how loaded they are (docs/protocol.md
 * §7). A lookup
 *  1. asks the DHT for providers of the service's provider key and de-duplicates them (kad-dht reports a
 *     provider once per peer that knows it);
 *  2. drops providers the chain view does not allow to serve ({@link ProviderEligibility}), before any
 *     record query — announcing oneself costs nothing, looking up a record costs a DHT query;
 *  3. fetches each remaining provider's record — as providers come in, while the provider query goes
 *     on — validates every value found (§3.5: signature, expiry, chain, registry, key), keeps the best
 *     (§3.6), and drops the provider when no valid record is left or the best one is a withdrawal (no
 *     multiaddrs).
 *
 * Neither query waits for kad-dht to finish: a whole query only ends once every disjoint path has
 * converged, ~10–30× the time of the first answer (docs/benchmarks.md). The provider query ends once
 * `enoughProviders` providers passed every check, a record query once `recordQuorum` holders answered
 * with a value; both also end when the DHT has nothing more to say.
 *
 * Results are cached per service for `cacheTtlMs` (at most until the first returned record expires).
 * A read in the last `refreshAheadMs` of an entry returns it and refreshes it in the background; a read
 * after expiry waits for a lookup. Concurrent lookups of one service share a single DHT query; each
 * caller's signal only bounds its own wait.
 */
import type { PeerId } from "@libp2p/interface";
import type { KadDHT } from "@libp2p/kad-dht";
import type { Address } from "viem";
import { DiscoveryStoppedError, RecordInvalidError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { serviceProviderCid, serviceRecordKey, type ServiceLocator } from "../p2p/dht-keys.ts";
import {
  selectServiceRecord,
  validateServiceRecord,
  type ServiceRecordCandidate,
  type SignedServiceRecord,
} from "../p2p/service-record.ts";
import { ProviderCache } from "./provider-cache.ts";
import { nodeAddressOfPeerId, type ProviderEligibility } from "./provider-eligibility.ts";
import { combineQueryStats, createQueryStatsCollector, type QueryStats } from "./query-stats.ts";

/**
 * How long a lookup is served from the cache (ms). Records live 10 minutes and are replaced every 5, so a
 * minute-old answer is current enough for routing while a busy gateway runs one lookup a minute per service.
 */
export const RESOLVER_CACHE_TTL_MS = 60 * 1000;
/** Refresh in the background when a read finds less than this left (ms): busy services never wait. */
export const RESOLVER_REFRESH_AHEAD_MS = 15 * 1000;
/**
 * How long an empty answer is served (ms): short, so a provider that just came up is found soon, but
 * long enough that a burst of requests for an unserved service does not become a burst of DHT queries.
 */
export const RESOLVER_EMPTY_TTL_MS = 5 * 1000;
/** Bound on one shared lookup (ms): a provider query plus record queries, each a few round trips. */
export const RESOLVER_LOOKUP_TIMEOUT_MS = 20 * 1000;
/**
 * Bound on one provider's record query (ms): a provider whose record holders are slow or unreachable
 * counts as `missing` instead of holding up the answer about every other provider.
 */
export const RESOLVER_RECORD_TIMEOUT_MS = 5 * 1000;
/**
 * Providers that pass every check after which a lookup stops asking the DHT for more. The gateway needs one
 * and a couple to fall back on; the rest of a query (every disjoint path converging) costs far more time
 * than the first answers. Different nodes end with different subsets, which spreads load across the
 * providers of a service served by many. `Infinity` waits for the whole query.
 */
export const RESOLVER_ENOUGH_PROVIDERS = 3;
/**
 * Holders of a provider's record whose answers end its record query. Re-announces replace a record every
 * ~5 min; a holder that missed the latest still has a valid older one, and more answers make picking the
 * newest likelier. 3 answers (of the k = 20 holders) is a few round trips, not a whole query.
 */
export const RESOLVER_RECORD_QUORUM = 3;
/** Most providers a lookup considers: kad-dht's `k`, what one provider query returns at most. */
export const RESOLVER_MAX_PROVIDERS = 20;
/** Record queries in parallel: fast lookups without opening dozens of DHT streams at once. */
export const RESOLVER_RECORD_CONCURRENCY = 8;
/** Services cached at most; the oldest lookup goes first. */
export const RESOLVER_MAX_CACHED_SERVICES = 1024;

/** What the resolver uses of the libp2p node. */
export interface ServiceResolverComponents {
  dht: Pick<KadDHT, "findProviders" | "get">;
  /** The local PeerId (answers from it count as hop 0). */
  peerId: PeerId;
}

export interface ServiceResolverInit {
  chainId: number;
  /** The ServiceRegistry whose services are resolved. */
  registry: Address;
  /** Who may serve; e.g. `chainViewEligibility(indexer)`. */
  eligibility: ProviderEligibility;
  /** @default {@link RESOLVER_CACHE_TTL_MS} */
  cacheTtlMs?: number;
  /** @default {@link RESOLVER_REFRESH_AHEAD_MS} */
  refreshAheadMs?: number;
  /** @default {@link RESOLVER_EMPTY_TTL_MS} */
  emptyTtlMs?: number;
  /** @default {@link RESOLVER_LOOKUP_TIMEOUT_MS} */
  lookupTimeoutMs?: number;
  /** @default {@link RESOLVER_RECORD_TIMEOUT_MS} */
  recordTimeoutMs?: number;
  /** @default {@link RESOLVER_MAX_PROVIDERS} */
  maxProviders?: number;
  /** @default {@link RESOLVER_ENOUGH_PROVIDERS} */
  enoughProviders?: number;
  /** @default {@link RESOLVER_RECORD_QUORUM} */
  recordQuorum?: number;
  /** @default {@link RESOLVER_RECORD_CONCURRENCY} */
  recordConcurrency?: number;
  /** @default {@link RESOLVER_MAX_CACHED_SERVICES} */
  maxCachedServices?: number;
  /** Unix milliseconds; also decides record expiry. @default Date.now */
  clock?: () => number;
  logger?: Logger;
}

/** A provider that passed every check, with its record. */
export interface ResolvedProvider {
  peerId: string;
  node: Address;
  multiaddrs: readonly string[];
  /** Basis points of the provider's capacity (its own report). */
  load: number;
  pricePerCall: bigint;
  version: string;
  record: SignedServiceRecord;
}

/** Why providers were left out of a result. */
export interface RejectedProviders {
  /** Not allowed to serve by the eligibility predicate (or not a secp256k1 PeerId). */
  ineligible: number;
  /** No record found. */
  missing: number;
  /** Only expired records found. */
  expired: number;
  /** Only invalid records found (bad signature, wrong chain, wrong key, malformed, …). */
  invalid: number;
  /** The best record is a withdrawal. */
  withdrawn: number;
}

/** What one network lookup did: for metrics. */
export interface LookupStats {
  /** Wall time of the lookup (ms). */
  durationMs: number;
  /** Of which the provider query (ms). */
  providerQueryMs: number;
  /** The provider query (GET_PROVIDERS). */
  providerQuery: QueryStats;
  /** The record queries (GET_VALUE), one per eligible provider: sums, and the deepest hop. */
  recordQueries: QueryStats;
  /** Distinct providers the DHT returned. */
  providersFound: number;
  rejected: RejectedProviders;
}

export interface ResolveResult {
  serviceId: bigint;
  /** Ordered by load, then PeerId. */
  providers: ResolvedProvider[];
  /** `network` when this call waited for a lookup, `cache` when it was answered from the cache. */
  source: "network" | "cache";
  /** When the lookup behind this result finished (unix ms). */
  resolvedAt: number;
  stats: LookupStats;
}

/** Counters since start, for metrics. */
export interface ResolverCounters {
  /** Network lookups started (foreground and background). */
  lookups: number;
  /** Calls answered from a fresh cache entry. */
  cacheHits: number;
  /** Calls answered from an entry due for refresh (a background lookup started or was running). */
  staleHits: number;
  /** Calls that joined a lookup already in flight. */
  joined: number;
}

export type ServiceResolverStatus = "running" | "stopped";

export interface ServiceResolver {
  readonly status: ServiceResolverStatus;
  /**
   * Providers of `serviceId`, from the cache when it holds a current answer.
   * @throws {DiscoveryStoppedError} after `stop()`; `signal.reason` when `signal` aborts first.
   */
  resolveProviders(serviceId: bigint, signal?: AbortSignal): Promise<ResolveResult>;
  /** Like `resolveProviders` but never answered from the cache (joins a lookup in flight). */
  refresh(serviceId: bigint, signal?: AbortSignal): Promise<ResolveResult>;
  /** Forget the cached answer of `serviceId` (e.g. after every provider failed). */
  invalidate(serviceId: bigint): void;
  counters(): ResolverCounters;
  /** Abort lookups in flight and drop the cache; idempotent. */
  stop(): Promise<void>;
}

/**
 * @example
 * const resolver = createServiceResolver({ chainId, registry, eligibility: chainViewEligibility(indexer) })({
 *   dht: libp2p.services.dht, peerId: libp2p.peerId,
 * });
 * const { providers, stats } = await resolver.resolveProviders(1n, AbortSignal.timeout(5_000));
 */
export function createServiceResolver(init: ServiceResolverInit): (components: ServiceResolverComponents) => ServiceResolver {
  const settings: ResolverSettings = {
    locator: { chainId: init.chainId, registry: init.registry },
    eligibility: init.eligibility,
    ttlMs: init.cacheTtlMs ?? RESOLVER_CACHE_TTL_MS,
    refreshAheadMs: init.refreshAheadMs ?? RESOLVER_REFRESH_AHEAD_MS,
    emptyTtlMs: init.emptyTtlMs ?? RESOLVER_EMPTY_TTL_MS,
    lookupTimeoutMs: init.lookupTimeoutMs ?? RESOLVER_LOOKUP_TIMEOUT_MS,
    recordTimeoutMs: init.recordTimeoutMs ?? RESOLVER_RECORD_TIMEOUT_MS,
    maxProviders: init.maxProviders ?? RESOLVER_MAX_PROVIDERS,
    enoughProviders: init.enoughProviders ?? RESOLVER_ENOUGH_PROVIDERS,
    recordQuorum: init.recordQuorum ?? RESOLVER_RECORD_QUORUM,
    recordConcurrency: init.recordConcurrency ?? RESOLVER_RECORD_CONCURRENCY,
    maxCachedServices: init.maxCachedServices ?? RESOLVER_MAX_CACHED_SERVICES,
    clock: init.clock ?? Date.now,
    log: (init.logger ?? createSilentLogger()).child({ module: "discovery", component: "resolver" }),
  };
  for (const [name, value] of Object.entries({ maxProviders: settings.maxProviders, recordConcurrency: settings.recordConcurrency })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  for (const [name, value] of Object.entries({ enoughProviders: settings.enoughProviders, recordQuorum: settings.recordQuorum })) {
    if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
      throw new RangeError(`${name} must be a positive integer or Infinity, got ${value}`);
    }
  }
  if (!(settings.emptyTtlMs >= 0 && settings.emptyTtlMs <= settings.ttlMs)) {
    throw new RangeError(`emptyTtlMs must be within [0, cacheTtlMs], got ${settings.emptyTtlMs}`);
  }
  return (components) => new Resolver(components, settings);
}

interface ResolverSettings {
  locator: Omit<ServiceLocator, "serviceId">;
  eligibility: ProviderEligibility;
  ttlMs: number;
  refreshAheadMs: number;
  emptyTtlMs: number;
  lookupTimeoutMs: number;
  recordTimeoutMs: number;
  maxProviders: number;
  enoughProviders: number;
  recordQuorum: number;
  recordConcurrency: number;
  maxCachedServices: number;
  clock: () => number;
  log: Logger;
}

type RecordOutcome = { kind: "found"; provider: ResolvedProvider } | { kind: Exclude<keyof RejectedProviders, "ineligible"> };

class Resolver implements ServiceResolver {
  private readonly components: ServiceResolverComponents;
  private readonly settings: ResolverSettings;
  private readonly cache: ProviderCache<ResolveResult>;
  private readonly inflight = new Map<bigint, Promise<ResolveResult>>();
  private readonly root = new AbortController();
  private readonly tally: ResolverCounters = { lookups: 0, cacheHits: 0, staleHits: 0, joined: 0 };
  private state: ServiceResolverStatus = "running";

  constructor(components: ServiceResolverComponents, settings: ResolverSettings) {
    this.components = components;
    this.settings = settings;
    this.cache = new ProviderCache({ ttlMs: settings.ttlMs, refreshAheadMs: settings.refreshAheadMs, maxEntries: settings.maxCachedServices });
  }

  get status(): ServiceResolverStatus {
    return this.state;
  }

  async resolveProviders(serviceId: bigint, signal?: AbortSignal): Promise<ResolveResult> {
    this.assertRunning();
    signal?.throwIfAborted();
    const cached = this.cache.read(String(serviceId), this.settings.clock());
    if (cached.state === "fresh") {
      this.tally.cacheHits++;
      return { ...cached.entry.value, source: "cache" };
    }
    if (cached.state === "stale") {
      this.tally.staleHits++;
      this.lookup(serviceId).catch((error: unknown) => {
        if (this.state === "running") this.settings.log.warn({ serviceId: String(serviceId), err: error }, "background refresh failed");
      });
      return { ...cached.entry.value, source: "cache" };
    }
    return untilAborted(this.lookup(serviceId), signal);
  }

  async refresh(serviceId: bigint, signal?: AbortSignal): Promise<ResolveResult> {
    this.assertRunning();
    signal?.throwIfAborted();
    return untilAborted(this.lookup(serviceId), signal);
  }

  invalidate(serviceId: bigint): void {
    this.cache.delete(String(serviceId));
  }

  counters(): ResolverCounters {
    return { ...this.tally };
  }

  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.root.abort(new DiscoveryStoppedError("resolver"));
    await Promise.allSettled(this.inflight.values());
    this.cache.clear();
  }

  private assertRunning(): void {
    if (this.state !== "running") throw new DiscoveryStoppedError("resolver");
  }

  /** The lookup of `serviceId` in flight, or a new one; it fills the cache when it succeeds. */
  private lookup(serviceId: bigint): Promise<ResolveResult> {
    const running = this.inflight.get(serviceId);
    if (running !== undefined) {
      this.tally.joined++;
      return running;
    }
    this.tally.lookups++;
    const signal = AbortSignal.any([this.root.signal, AbortSignal.timeout(this.settings.lookupTimeoutMs)]);
    const lookup = this.lookupNetwork(serviceId, signal)
      .then((result) => {
        if (this.state === "running") this.store(result);
        return result;
      })
      .finally(() => this.inflight.delete(serviceId));
    this.inflight.set(serviceId, lookup);
    return lookup;
  }

  private store(result: ResolveResult): void {
    const firstExpiry = Math.min(...result.providers.map((p) => p.record.expiresAt * 1000));
    const notAfter = result.providers.length === 0 ? result.resolvedAt + this.settings.emptyTtlMs : firstExpiry;
    this.cache.write(String(result.serviceId), result, result.resolvedAt, notAfter);
  }

  private async lookupNetwork(serviceId: bigint, signal: AbortSignal): Promise<ResolveResult> {
    const started = performance.now();
    const locator: ServiceLocator = { ...this.settings.locator, serviceId };
    const providerStats = createQueryStatsCollector(this.components.peerId);
    const found = new Map<string, PeerId>();
    const rejected: RejectedProviders = { ineligible: 0, missing: 0, expired: 0, invalid: 0, withdrawn: 0 };
    const recordStats: QueryStats[] = [];
    // Record queries start as providers come in, while the provider query goes on.
    const limit = createLimiter(this.settings.recordConcurrency);
    const pending: Promise<RecordOutcome>[] = [];
    // Ends the provider query (not the lookup) once enough providers passed every check.
    const enough = new AbortController();
    let accepted = 0;
    const consider = (id: PeerId) => {
      const peerId = id.toMultihash().bytes;
      const node = nodeAddressOfPeerId(peerId);
      if (node === undefined || !this.settings.eligibility({ serviceId, peerId, node })) {
        rejected.ineligible++;
        return;
      }
      const outcome = limit(async () => {
        const { outcome, stats } = await this.fetchRecord(locator, id.toString(), signal);
        recordStats.push(stats);
        if (outcome.kind === "found" && ++accepted >= this.settings.enoughProviders) enough.abort();
        return outcome;
      });
      outcome.catch(() => undefined); // awaited below; rejects only when the whole lookup is aborted
      pending.push(outcome);
    };
    let providerQueryMs: number;
    try {
      const querySignal = AbortSignal.any([signal, enough.signal]);
      for await (const event of this.components.dht.findProviders(serviceProviderCid(locator), { signal: querySignal })) {
        providerStats.observe(event);
        if (event.name !== "PROVIDER") continue;
        for (const { id } of event.providers) {
          if (found.size >= this.settings.maxProviders || found.has(id.toString())) continue;
          found.set(id.toString(), id);
          consider(id);
        }
        if (found.size >= this.settings.maxProviders || enough.signal.aborted) break;
      }
      providerQueryMs = performance.now() - started;
    } catch (error) {
      if (!enough.signal.aborted || signal.aborted) {
        await Promise.allSettled(pending);
        throw error;
      }
      providerQueryMs = performance.now() - started; // ended early: enough providers
    }
    const outcomes = await Promise.all(pending);
    const providers: ResolvedProvider[] = [];
    for (const outcome of outcomes) {
      if (outcome.kind === "found") providers.push(outcome.provider);
      else rejected[outcome.kind]++;
    }
    providers.sort((a, b) => a.load - b.load || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));

    const result: ResolveResult = {
      serviceId,
      providers,
      source: "network",
      resolvedAt: this.settings.clock(),
      stats: {
        durationMs: performance.now() - started,
        providerQueryMs,
        providerQuery: providerStats.snapshot(),
        recordQueries: combineQueryStats(recordStats),
        providersFound: found.size,
        rejected,
      },
    };
    this.settings.log.debug(
      { serviceId: String(serviceId), providers: providers.length, found: found.size, ms: Math.round(result.stats.durationMs) },
      "service resolved",
    );
    return result;
  }

  /** GET_VALUE the provider's record key and judge every value seen. */
  private async fetchRecord(
    locator: ServiceLocator,
    peerId: string,
    signal: AbortSignal,
  ): Promise<{ outcome: RecordOutcome; stats: QueryStats }> {
    const key = serviceRecordKey({ ...locator, peerId });
    const stats = createQueryStatsCollector(this.components.peerId);
    const values: Uint8Array[] = [];
    try {
      const bounded = AbortSignal.any([signal, AbortSignal.timeout(this.settings.recordTimeoutMs)]);
      // kad-dht's get yields every holder's answer as PEER_RESPONSE and the best value (again) as VALUE
      // only after the whole query; our own copy comes first as a VALUE. Each counts toward the quorum.
      for await (const event of this.components.dht.get(key, { signal: bounded })) {
        stats.observe(event);
        if (event.name === "VALUE") values.push(event.value);
        else if (event.name === "PEER_RESPONSE" && event.messageName === "GET_VALUE" && event.record !== undefined) values.push(event.record.value);
        else continue;
        if (values.length >= this.settings.recordQuorum) break;
      }
    } catch (error) {
      // Past the record timeout, or kad-dht's get failing while it pushes the best value to peers holding
      // older ones (it throws when one of them refuses): the values seen so far still count. An abort of
      // the whole lookup does not.
      if (signal.aborted) throw signal.reason;
      this.settings.log.debug({ peerId, err: error }, "record query ended with an error");
    }

    const now = Math.floor(this.settings.clock() / 1000);
    const valid: ServiceRecordCandidate[] = [];
    let expired = false;
    // Holders mostly return the same bytes; a signature check costs ~3 ms, so check each value once.
    const distinct = new Map(values.map((bytes) => [Buffer.from(bytes).toString("base64"), bytes]));
    for (const bytes of distinct.values()) {
      try {
        const record = await validateServiceRecord(bytes, { now, expectedKey: key, chainId: locator.chainId, registry: locator.registry });
        valid.push({ record, bytes });
      } catch (error) {
        if (error instanceof RecordInvalidError && error.reason === "expired") expired = true;
      }
    }
    const snapshot = stats.snapshot();
    if (valid.length === 0) {
      return { outcome: { kind: values.length === 0 ? "missing" : expired ? "expired" : "invalid" }, stats: snapshot };
    }
    const { record } = valid[selectServiceRecord(valid)]!;
    if (record.multiaddrs.length === 0) return { outcome: { kind: "withdrawn" }, stats: snapshot };
    return {
      outcome: {
        kind: "found",
        provider: {
          peerId: record.peerId,
          node: record.node,
          multiaddrs: record.multiaddrs,
          load: record.load,
          pricePerCall: record.pricePerCall,
          version: record.version,
          record,
        },
      },
      stats: snapshot,
    };
  }
}

/** `promise`, or `signal.reason` as soon as `signal` aborts (the work behind `promise` goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Runs the functions given to it with at most `concurrency` in flight, in the order given. */
function createLimiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (running >= concurrency) return;
    const start = queue.shift();
    if (start === undefined) return;
    running++;
    start();
  };
  return (task) =>
    new Promise((resolve, reject) => {
      queue.push(() =>
        task()
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          }),
      );
      next();
    });
}
