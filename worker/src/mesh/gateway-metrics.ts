/**
 * The gateway's golden-signal hooks wired to the node's Prometheus metrics (`dsmp_mesh_*`, api/metrics.ts):
 * node.ts spreads these into the gateway's `metrics`, and tests use the same wiring.
 */
import type { DsmpMetrics } from "../api/metrics.ts";
import type { Gateway, GatewayMetrics } from "./gateway.ts";
import { BREAKER_STATE_VALUE } from "./routing/circuit-breaker.ts";

/** Every mesh hook but `requestFinished` (which also feeds the older `dsmp_gateway_*` metrics in node.ts). */
export function meshMetricsHooks(metrics: DsmpMetrics): Omit<GatewayMetrics, "requestFinished"> {
  return {
    routed: (e) => {
      const statusClass = `${Math.floor(e.status / 100)}xx`;
      metrics.meshRequests.inc({ service: e.serviceId });
      metrics.meshResponses.inc({ service: e.serviceId, status_class: statusClass, classification: e.status > 0 && e.status < 500 ? "success" : "failure" });
      metrics.meshResponseSeconds.observe({ service: e.serviceId }, e.durationSeconds);
    },
    attemptFinished: (e) => {
      metrics.meshAttempts.inc({ service: e.serviceId, provider: e.provider, outcome: e.outcome });
      metrics.meshAttemptSeconds.observe({ service: e.serviceId, provider: e.provider }, e.durationSeconds);
    },
    retried: (e) => metrics.meshRetries.inc({ service: e.serviceId }),
    retryBudgetExhausted: (e) => metrics.meshRetryBudgetExhausted.inc({ service: e.serviceId }),
    denied: (e) => metrics.meshDenied.inc({ service: e.serviceId, reason: e.reason }),
  };
}

/** Let the `dsmp_mesh_breaker_state` gauge read the gateway's breakers at scrape time. */
export function exposeBreakerStates(metrics: DsmpMetrics, gateway: Pick<Gateway, "breakerStates">): void {
  metrics.addBreakerSource(() =>
    gateway.breakerStates().map((b) => ({ service: b.serviceId, provider: b.provider, value: BREAKER_STATE_VALUE[b.state] })),
  );
}
