/**
 * The node's Prometheus metrics: one object built once per node over one registry (STYLE §10). Names are
 * `dsmp_<subsystem>_<thing>_{total|seconds}`; labels are bounded (status class, not status; service ids
 * only for services this node serves or calls, which the operator configures).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Latency buckets for mesh calls and DHT lookups: sub-millisecond on loopback up to multi-second WAN. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "dsmp_process_" });
  const registers = [registry];
  return {
    registry,
    p2pPeers: new Gauge({ name: "dsmp_p2p_peers", help: "Connected libp2p peers", registers }),
    p2pStreamsOpened: new Counter({
      name: "dsmp_p2p_streams_opened_total",
      help: "Streams opened, by protocol and direction",
      labelNames: ["protocol", "direction"] as const,
      registers,
    }),
    dhtLookups: new Counter({
      name: "dsmp_dht_lookups_total",
      help: "Service provider lookups, by outcome (found / empty / error / cached)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    dhtLookupSeconds: new Histogram({
      name: "dsmp_dht_lookup_seconds",
      help: "Time of a provider lookup that went to the network",
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    dhtLookupHops: new Histogram({
      name: "dsmp_dht_lookup_hops",
      help: "Peers queried by a provider lookup",
      buckets: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20],
      registers,
    }),
    gatewayRequests: new Counter({
      name: "dsmp_gateway_requests_total",
      help: "Gateway requests, by service and HTTP status class",
      labelNames: ["service", "status_class"] as const,
      registers,
    }),
    gatewayErrors: new Counter({
      name: "dsmp_gateway_errors_total",
      help: "Gateway requests that no provider could serve, by reason",
      labelNames: ["service", "reason"] as const,
      registers,
    }),
    gatewaySeconds: new Histogram({
      name: "dsmp_gateway_request_seconds",
      help: "Gateway request latency, from request head to response end",
      labelNames: ["service"] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    providerRequests: new Counter({
      name: "dsmp_provider_requests_total",
      help: "Requests served to other nodes, by service and outcome (HTTP status class or mesh error code)",
      labelNames: ["service", "outcome"] as const,
      registers,
    }),
    providerSeconds: new Histogram({
      name: "dsmp_provider_request_seconds",
      help: "Time to serve a request from another node, from request head to response end",
      labelNames: ["service"] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    accessDenied: new Counter({
      name: "dsmp_access_denied_total",
      help: "Calls to services this node serves refused by the access policy, by denial reason (docs/protocol.md §8.5)",
      labelNames: ["reason"] as const,
      registers,
    }),
    usageCalls: new Counter({
      name: "dsmp_usage_calls_total",
      help: "Calls served and recorded in the usage ledger, by service",
      labelNames: ["service"] as const,
      registers,
    }),
    chainSyncedBlock: new Gauge({ name: "dsmp_chain_synced_block", help: "Newest block folded into the chain view", registers }),
    chainReorgs: new Counter({ name: "dsmp_chain_reorgs_total", help: "Reorgs the chain view repaired", registers }),
  };
}

export type DsmpMetrics = ReturnType<typeof createMetrics>;
