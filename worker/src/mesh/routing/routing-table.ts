/**
 * What the gateway knows about each service it calls and each provider of it: the provider's peak-EWMA
 * load and circuit breaker, the service's retry budget, and rolling golden-signal windows for
 * `dsmp service stat`. Routes idle for `idleMs` are forgotten, so memory follows the services in use. Pure:
 * `now` (ms) and the random draws come in.
 */
import { BREAKER_STATE_VALUE, CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from "./circuit-breaker.ts";
import { DEFAULT_STATS_WINDOW_MS, LatencyWindow, type WindowStats } from "./latency-window.ts";
import { pickP2c, type P2cRefusal } from "./p2c-balancer.ts";
import { PeakEwma, type PeakEwmaOptions } from "./peak-ewma.ts";
import { RetryBudget, type RetryBudgetOptions } from "./retry-budget.ts";

/** Forget a provider or service not used for this long (ms): 10 minutes, longer than a DHT record lives. */
export const DEFAULT_ROUTE_IDLE_MS = 10 * 60_000;

export interface RoutingOptions {
  ewma?: PeakEwmaOptions;
  breaker?: CircuitBreakerOptions;
  retryBudget?: RetryBudgetOptions;
  /** @default {@link DEFAULT_STATS_WINDOW_MS} */
  statsWindowMs?: number;
  /** @default {@link DEFAULT_ROUTE_IDLE_MS} */
  idleMs?: number;
}

/** One provider of one service. */
export interface ProviderRoute {
  readonly id: string;
  readonly ewma: PeakEwma;
  readonly breaker: CircuitBreaker;
  readonly window: LatencyWindow;
  lastUsed: number;
}

/** One service. */
export interface ServiceRoute {
  readonly budget: RetryBudget;
  readonly window: LatencyWindow;
  readonly providers: Map<string, ProviderRoute>;
  lastUsed: number;
}

/** A provider the resolver returned: its PeerId string and the load its record advertises. */
export interface RouteCandidate {
  id: string;
  /** Basis points of capacity (0 … 10 000). */
  load?: number | undefined;
}

/** A provider's row of `dsmp service stat`. */
export interface ProviderStats extends WindowStats {
  provider: string;
  breaker: BreakerState;
  /** 0 closed, 1 half-open, 2 open (the metric's value). */
  breakerValue: number;
  /** The current peak-EWMA latency estimate (ms). */
  ewmaMs: number;
  outstanding: number;
}

/** `GET /v1/services/:id/stats`. */
export interface ServiceStats {
  serviceId: string;
  windowMs: number;
  total: WindowStats;
  providers: ProviderStats[];
}

/** The stats of a service this gateway has not called (within the idle period). */
export function emptyServiceStats(serviceId: string, windowMs = DEFAULT_STATS_WINDOW_MS): ServiceStats {
  return { serviceId, windowMs, total: new LatencyWindow().stats(0), providers: [] };
}

export class RoutingTable {
  readonly #options: RoutingOptions;
  readonly #idleMs: number;
  readonly #services = new Map<string, ServiceRoute>();
  #lastPrune = 0;

  constructor(options: RoutingOptions = {}) {
    this.#options = options;
    this.#idleMs = options.idleMs ?? DEFAULT_ROUTE_IDLE_MS;
  }

  get windowMs(): number {
    return this.#options.statsWindowMs ?? DEFAULT_STATS_WINDOW_MS;
  }

  service(serviceId: string, now: number): ServiceRoute {
    this.#prune(now);
    let route = this.#services.get(serviceId);
    if (route === undefined) {
      route = {
        budget: new RetryBudget(this.#options.retryBudget),
        window: new LatencyWindow({ windowMs: this.windowMs }),
        providers: new Map(),
        lastUsed: now,
      };
      this.#services.set(serviceId, route);
    }
    route.lastUsed = now;
    return route;
  }

  provider(serviceId: string, providerId: string, now: number): ProviderRoute {
    const service = this.service(serviceId, now);
    let route = service.providers.get(providerId);
    if (route === undefined) {
      route = {
        id: providerId,
        ewma: new PeakEwma(this.#options.ewma),
        breaker: new CircuitBreaker(this.#options.breaker),
        window: new LatencyWindow({ windowMs: this.windowMs }),
        lastUsed: now,
      };
      service.providers.set(providerId, route);
    }
    route.lastUsed = now;
    return route;
  }

  /** P2C over `candidates` by cost, skipping open breakers and `exclude`. */
  choose(
    serviceId: string,
    candidates: readonly RouteCandidate[],
    options: { now: number; exclude?: string | undefined; random: () => number },
  ): { id: string } | { refused: P2cRefusal } {
    const { now } = options;
    const scored = candidates.map((candidate) => {
      const route = this.provider(serviceId, candidate.id, now);
      if (candidate.load !== undefined) route.ewma.load = candidate.load;
      return { id: candidate.id, cost: route.ewma.cost(now), available: route.breaker.allows(now) };
    });
    return pickP2c(scored, { exclude: options.exclude, random: options.random });
  }

  /** The windows and breaker states of a service, `undefined` if it was never called (or forgotten). */
  stats(serviceId: string, now: number): ServiceStats | undefined {
    const service = this.#services.get(serviceId);
    if (service === undefined) return undefined;
    const providers = [...service.providers.values()]
      .map((route): ProviderStats => {
        const breaker = route.breaker.state(now);
        return {
          provider: route.id,
          ...route.window.stats(now),
          breaker,
          breakerValue: BREAKER_STATE_VALUE[breaker],
          ewmaMs: route.ewma.estimateMs(now),
          outstanding: route.ewma.outstanding,
        };
      })
      .sort((a, b) => (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));
    return { serviceId, windowMs: this.windowMs, total: service.window.stats(now), providers };
  }

  /** Every provider's breaker state, for the gauge. */
  *breakerStates(now: number): Generator<{ serviceId: string; provider: string; state: BreakerState }> {
    for (const [serviceId, service] of this.#services) {
      for (const route of service.providers.values()) yield { serviceId, provider: route.id, state: route.breaker.state(now) };
    }
  }

  #prune(now: number): void {
    if (now - this.#lastPrune < this.#idleMs / 10) return;
    this.#lastPrune = now;
    for (const [serviceId, service] of this.#services) {
      for (const [id, route] of service.providers) {
        if (now - route.lastUsed > this.#idleMs && route.ewma.outstanding === 0) service.providers.delete(id);
      }
      if (service.providers.size === 0 && now - service.lastUsed > this.#idleMs) this.#services.delete(serviceId);
    }
  }
}
