/**
 * The node's Prometheus metrics: one object built once per node over one registry (STYLE §10). Names are
 * `dsmp_<subsystem>_<thing>_{total|seconds}`; labels are bounded (status class, not status; service ids
 * only for services this node serves or calls, which the operator configures).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Latency buckets for mesh calls and DHT lookups: sub-millisecond on loopback up to multi-second WAN. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One provider's circuit breaker, as the gauge reports it (0 closed, 1 half-open, 2 open). */
export interface BreakerSample {
  service: string;
  provider: string;
  value: number;
}

/** The network view the observed-* gauges report (observability/observability-service.ts). */
export interface ObservationSample {
  nodes: ReadonlyArray<{
    node: string;
    state: "up" | "down" | "unknown";
    availability: number | undefined;
    uptime: number | undefined;
    rttMs: number | undefined;
    proof: { state: "proven" | "failed" | "disputed" | "unchecked" };
  }>;
  services: ReadonlyArray<{ serviceId: string; requestsPerSecond: number; errorRate: number | undefined }>;
}

/** What the resource-proof gauges read at scrape time (resource-proof/resource-proof-service.ts). */
export interface ResourceProofSample {
  nodes: ReadonlyArray<{ node: string; state: "proven" | "failed" | "unproven"; advertisedMillicores: number; provenMillicores: number | undefined }>;
}

/** The prover's counters (resource-proof/resource-proof-protocol.ts), read at scrape time. */
export interface ResourceProverSample {
  answered: number;
  refused: Record<string, number>;
  failed: number;
}

/** Wall-clock buckets of a sandbox run: a tiny module in milliseconds up to the 10 s default limit. */
export const SANDBOX_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  // prom-client's names already start with process_ / nodejs_: dsmp_process_cpu_seconds_total, dsmp_nodejs_heap_size_used_bytes.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "dsmp_" });
  const registers = [registry];
  /** Where the breaker gauge reads its values at scrape time (the gateway's routing table). */
  const breakerSources: Array<() => Iterable<BreakerSample>> = [];
  /** Where the task jobs gauge reads its values at scrape time (the task runner's queue counts by state). */
  const taskJobSources: Array<() => Promise<Record<string, number>>> = [];
  /** Where the observed-* gauges read the network view at scrape time (the observability service). */
  const observationSources: Array<() => ObservationSample> = [];
  const resourceProofSources: Array<() => ResourceProofSample> = [];
  const resourceProverSources: Array<() => ResourceProverSample> = [];
  const resourceProofGauge = (name: string, help: string, value: (node: ResourceProofSample["nodes"][number]) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const source of resourceProofSources) {
          for (const node of source().nodes) {
            const n = value(node);
            if (n !== undefined) this.set({ node: node.node }, n);
          }
        }
      },
    });
  /** A gauge of the network view, filled at scrape time from every source (`set` skips undefined values). */
  const observationGauge = (
    name: string,
    help: string,
    fill: (sample: ObservationSample, set: (label: string, value: number | undefined) => void) => void,
    label: "node" | "service" = "node",
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        const set = (value: string, n: number | undefined): void => {
          if (n !== undefined) this.set({ [label]: value }, n);
        };
        for (const source of observationSources) fill(source(), set);
      },
    });
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
    // Golden signals of the mesh data plane, Linkerd style (docs/mesh.md §Metrics). `service` is a service this
    // node called and found providers for; `provider` a PeerId among that service's providers (a handful).
    meshRequests: new Counter({
      name: "dsmp_mesh_requests_total",
      help: "Requests routed by the gateway to a service (found providers), by service",
      labelNames: ["service"] as const,
      registers,
    }),
    meshResponses: new Counter({
      name: "dsmp_mesh_responses_total",
      help: "Responses of routed requests, by service, HTTP status class and classification (success: not 5xx)",
      labelNames: ["service", "status_class", "classification"] as const,
      registers,
    }),
    meshResponseSeconds: new Histogram({
      name: "dsmp_mesh_response_latency_seconds",
      help: "Latency of routed requests, all attempts and backoff included",
      labelNames: ["service"] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    meshAttempts: new Counter({
      name: "dsmp_mesh_attempts_total",
      help: "Attempts on a provider, by service, provider and outcome (status class relayed, or the gateway error code)",
      labelNames: ["service", "provider", "outcome"] as const,
      registers,
    }),
    meshAttemptSeconds: new Histogram({
      name: "dsmp_mesh_attempt_latency_seconds",
      help: "Latency of one attempt on a provider, to the end of its response",
      labelNames: ["service", "provider"] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    meshRetries: new Counter({
      name: "dsmp_mesh_retries_total",
      help: "Retries sent (attempts after the first), by service",
      labelNames: ["service"] as const,
      registers,
    }),
    meshRetryBudgetExhausted: new Counter({
      name: "dsmp_mesh_retry_budget_exhausted_total",
      help: "Retries not sent because the service's retry budget was spent, by service",
      labelNames: ["service"] as const,
      registers,
    }),
    meshDenied: new Counter({
      name: "dsmp_mesh_denied_total",
      help: "Calls no provider served, by service and reason (no-providers, all-breakers-open, access-denied-upstream)",
      labelNames: ["service", "reason"] as const,
      registers,
    }),
    meshBreakerState: new Gauge({
      name: "dsmp_mesh_breaker_state",
      help: "Circuit breaker of each provider: 0 closed, 1 half-open, 2 open",
      labelNames: ["service", "provider"] as const,
      registers,
      collect() {
        this.reset();
        for (const source of breakerSources) for (const { service, provider, value } of source()) this.set({ service, provider }, value);
      },
    }),
    /** Register what the breaker gauge reads at scrape time. */
    addBreakerSource(source: () => Iterable<BreakerSample>): void {
      breakerSources.push(source);
    },
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
    // Per-call settlement (docs/access.md §Settlement).
    usageClaimCalls: new Counter({
      name: "dsmp_usage_claim_calls_total",
      help: "Served per-call calls by settlement result: paid, a UsageEscrow reject reason, or dropped-stale / dropped-overflow before claiming",
      labelNames: ["result"] as const,
      registers,
    }),
    usageClaims: new Counter({
      name: "dsmp_usage_claims_total",
      help: "UsageEscrow.claim transactions this node sent, by outcome (mined, failed) and trigger",
      labelNames: ["outcome", "trigger"] as const,
      registers,
    }),
    usageClaimedTokens: new Counter({
      name: "dsmp_usage_claimed_tokens_total",
      help: "Tokens claimed for served calls (gross, before the protocol fee), in whole token units",
      registers,
    }),
    usageUnclaimed: new Gauge({
      name: "dsmp_usage_unclaimed_calls",
      help: "Served per-call calls waiting to be claimed (including those held for lack of escrow)",
      registers,
    }),
    // Open Observability (docs/observability.md). Node labels are registered Xnode addresses (the network's
    // size); service labels are service ids reported by bonded Xnodes (bounded by the registry).
    observabilityReports: new Counter({
      name: "dsmp_observability_reports_total",
      help: "Observability reports received on gossipsub, by outcome: accepted or the reason it was dropped",
      labelNames: ["outcome"] as const,
      registers,
    }),
    observabilityPublished: new Counter({
      name: "dsmp_observability_reports_published_total",
      help: "Observability reports this node signed and published, by outcome (published, no-peers, failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    observabilityProbes: new Counter({
      name: "dsmp_observability_probes_total",
      help: "Liveness probes (libp2p ping) this node sent to other Xnodes, by outcome (ok, failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    observabilityFaults: new Counter({
      name: "dsmp_observability_faults_total",
      help: "Fault log events this node derived from the aggregated reports, by kind (down, recovered)",
      labelNames: ["kind"] as const,
      registers,
    }),
    gatewayProvidersSkipped: new Counter({
      name: "dsmp_gateway_providers_skipped_total",
      help: "Providers the gateway left out of a call's candidates, by reason (observed-down: the network's Open Observability view judges the node down)",
      labelNames: ["reason"] as const,
      registers,
    }),
    observedNodeUp: observationGauge(
      "dsmp_observed_node_up",
      "Aggregated view of each registered Xnode: 1 up, 0 down (stake-weighted median of the other nodes' probes); absent when unknown",
      (sample, set) => {
        for (const n of sample.nodes) if (n.state !== "unknown") set(n.node, n.state === "up" ? 1 : 0);
      },
    ),
    observedNodeAvailability: observationGauge(
      "dsmp_observed_node_availability_ratio",
      "Stake-weighted median over the other nodes of the success ratio of their latest probes of each Xnode (within 60 s)",
      (sample, set) => sample.nodes.forEach((n) => set(n.node, n.availability)),
    ),
    observedNodeUptime: observationGauge(
      "dsmp_observed_node_uptime_ratio",
      "Share of the time this node has judged each Xnode up since it started observing it",
      (sample, set) => sample.nodes.forEach((n) => set(n.node, n.uptime)),
    ),
    observedNodeProven: observationGauge(
      "dsmp_observed_node_proven",
      "Proof of Resource as the network's verdicts say, weighted by stake: 1 proven, 0 failed; absent when unchecked or disputed",
      (sample, set) => {
        for (const n of sample.nodes) set(n.node, n.proof.state === "proven" ? 1 : n.proof.state === "failed" ? 0 : undefined);
      },
    ),
    observedNodeRtt: observationGauge(
      "dsmp_observed_node_rtt_seconds",
      "Stake-weighted median over the other nodes of their probes' median round trip",
      (sample, set) => sample.nodes.forEach((n) => set(n.node, n.rttMs === undefined ? undefined : n.rttMs / 1000)),
    ),
    observedServiceRps: observationGauge(
      "dsmp_observed_service_requests_per_second",
      "Calls per second of each service, summed over what its providers reported serving in their latest window",
      (sample, set) => sample.services.forEach((s) => set(s.serviceId, s.requestsPerSecond)),
      "service",
    ),
    observedServiceErrorRatio: observationGauge(
      "dsmp_observed_service_error_ratio",
      "Stake-weighted median of the error ratios (5xx, mesh errors) its providers reported, per service",
      (sample, set) => sample.services.forEach((s) => set(s.serviceId, s.errorRate)),
      "service",
    ),
    // Proof of Resource (docs/proof-of-resource.md). Node labels are registered Xnode addresses.
    resourceProofVerdicts: new Counter({
      name: "dsmp_resource_proofs_total",
      help: "Compute challenges this node sent, by outcome: proven, too-slow, wrong-product, refused, no-answer, malformed, or deferred (refused as busy / rate-limited; asked again later)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    resourceProofState: resourceProofGauge(
      "dsmp_resource_proof_proven",
      "Whether each other Xnode's latest compute challenge proved its advertised CPU (1), failed (0); absent until challenged",
      (n) => (n.state === "unproven" ? undefined : n.state === "proven" ? 1 : 0),
    ),
    resourceProofAdvertised: resourceProofGauge("dsmp_resource_proof_advertised_millicores", "CPU each other Xnode advertises in the XnodeRegistry (millicores)", (n) => n.advertisedMillicores),
    resourceProofProven: resourceProofGauge(
      "dsmp_resource_proof_proven_millicores",
      "Reference millicores each other Xnode's latest right answer showed (work / time / reference core rate)",
      (n) => n.provenMillicores,
    ),
    resourceProverChallenges: new Gauge({
      name: "dsmp_resource_prover_challenges",
      help: "Compute challenges this node received since it started, by outcome: answered, busy, rate-limited, not-eligible, malformed-request, over-budget, failed (stream error or deadline)",
      labelNames: ["outcome"] as const,
      registers,
      collect() {
        this.reset();
        for (const source of resourceProverSources) {
          const stats = source();
          this.inc({ outcome: "answered" }, stats.answered);
          this.inc({ outcome: "failed" }, stats.failed);
          for (const [outcome, n] of Object.entries(stats.refused)) this.inc({ outcome }, n);
        }
      },
    }),
    addResourceProofSource(source: () => ResourceProofSample): void {
      resourceProofSources.push(source);
    },
    addResourceProverSource(source: () => ResourceProverSample): void {
      resourceProverSources.push(source);
    },
    /** Register what the observed-* gauges read at scrape time (the observability service's current view). */
    addObservationSource(source: () => ObservationSample): void {
      observationSources.push(source);
    },
    // Compute tasks (docs/tasks.md §Metrics). Labels are bounded: BullMQ job states, job outcomes, sandbox
    // failure reasons, round drop reasons, proof kinds.
    tasksJobs: new Gauge({
      name: "dsmp_tasks_jobs",
      help: "Task jobs in this node's queue, by BullMQ state (waiting, active, delayed, completed, failed, ...)",
      labelNames: ["state"] as const,
      registers,
      async collect() {
        this.reset();
        for (const source of taskJobSources) {
          const counts = await source().catch(() => ({}) as Record<string, number>);
          for (const [state, n] of Object.entries(counts)) this.inc({ state }, n);
        }
      },
    }),
    /** Register what the task jobs gauge reads at scrape time. */
    addTaskJobSource(source: () => Promise<Record<string, number>>): void {
      taskJobSources.push(source);
    },
    tasksJobOutcomes: new Counter({
      name: "dsmp_tasks_job_outcomes_total",
      help: "Task jobs ended, by outcome (finalized, not-final, already-closed, not-seated, module-failed, job-failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    tasksSandboxRuns: new Counter({
      name: "dsmp_tasks_sandbox_runs_total",
      help: "Sandbox runs of task modules, by outcome (ok, or the failure reason: timeout, memory-limit, trap, invalid, ...)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    tasksSandboxSeconds: new Histogram({
      name: "dsmp_tasks_sandbox_run_seconds",
      help: "Wall-clock time of a sandbox run (thread start to output or failure), by outcome",
      labelNames: ["outcome"] as const,
      buckets: SANDBOX_BUCKETS_SECONDS,
      registers,
    }),
    tasksRoundDropped: new Counter({
      name: "dsmp_tasks_round_messages_dropped_total",
      help: "Committee round messages dropped, by reason (malformed, bad-signature, wrong-task, not-committee, late-commit, duplicate, reveal-without-commit, reveal-mismatch, after-finalization)",
      labelNames: ["reason"] as const,
      registers,
    }),
    tasksReportsTransmitted: new Counter({
      name: "dsmp_tasks_reports_transmitted_total",
      help: "reportResult transactions sent by this node",
      registers,
    }),
    tasksCommitsAnchored: new Counter({
      name: "dsmp_tasks_commits_anchored_total",
      help: "anchorCommit transactions sent by this node",
      registers,
    }),
    tasksProofsSubmitted: new Counter({
      name: "dsmp_tasks_proofs_submitted_total",
      help: "Fault proofs sent by this node, by kind (wrong-result, commit-equivocation)",
      labelNames: ["kind"] as const,
      registers,
    }),
    tasksKeeperTransactions: new Counter({
      name: "dsmp_tasks_keeper_transactions_total",
      help: "Transactions this node sent to move a stalled task on (reallocate, assign of the next round)",
      labelNames: ["action"] as const,
      registers,
    }),
    chainSyncedBlock: new Gauge({ name: "dsmp_chain_synced_block", help: "Newest block folded into the chain view", registers }),
    chainReorgs: new Counter({ name: "dsmp_chain_reorgs_total", help: "Reorgs the chain view repaired", registers }),
  };
}

export type DsmpMetrics = ReturnType<typeof createMetrics>;
