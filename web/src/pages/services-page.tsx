/** Browse and search services, with the figures a consumer weighs: price, replicas, subscribers, latency, stake. */
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNodes, useServices, type NodeRow, type ServiceRow } from "../chain-reads.ts";
import { useDsmp } from "../dsmp-context.tsx";
import { formatOpen, priceModel, shortHex } from "../format.ts";
import { getServiceStats, nodeGet, type ProvidersAnswer } from "../node-api.ts";
import { Link } from "../router.tsx";

export const NOT_REPORTED = "not reported yet";

export function useProviders(serviceId: bigint) {
  const { apiBase } = useDsmp();
  return useQuery({
    queryKey: ["providers", serviceId.toString()],
    queryFn: () => nodeGet<ProvidersAnswer>(apiBase, `/v1/services/${serviceId}/providers`),
    refetchInterval: 10_000,
  });
}

export function useServiceStats(serviceId: bigint) {
  const { apiBase } = useDsmp();
  return useQuery({ queryKey: ["stats", serviceId.toString()], queryFn: () => getServiceStats(apiBase, serviceId) });
}

/** Lowest bonded stake among a service's providers' operators: what a misbehaving provider has to lose. */
export function providerStake(providers: ProvidersAnswer | undefined, nodes: NodeRow[] | undefined): bigint | undefined {
  if (!providers || !nodes || providers.providers.length === 0) return undefined;
  const byAddress = new Map(nodes.map((n) => [n.address.toLowerCase(), n.operatorStake]));
  const stakes = providers.providers.map((p) => byAddress.get(p.node.toLowerCase()) ?? 0n);
  return stakes.reduce((a, b) => (b < a ? b : a));
}

/** Pure filter of the search box: name, id, owner or visibility. */
export function filterServices(rows: ServiceRow[], query: string): ServiceRow[] {
  const q = query.trim().toLowerCase();
  if (q === "") return rows;
  return rows.filter((r) => r.name.toLowerCase().includes(q) || r.id.toString() === q.replace(/^#/, "") || r.owner.toLowerCase().includes(q) || r.visibility === q);
}

function ServiceRowView({ s, nodes }: { s: ServiceRow; nodes: NodeRow[] | undefined }) {
  const providers = useProviders(s.id);
  const stats = useServiceStats(s.id);
  const stake = providerStake(providers.data, nodes);
  const st = stats.data;
  const ms = (v: number | undefined) => (v === undefined ? NOT_REPORTED : `${v.toFixed(1)} ms`);
  return (
    <tr>
      <td>
        <Link to={`/services/${s.id}`}>{s.name}</Link> <span className="muted">#{s.id.toString()}</span>
        {s.visibility === "private" ? <span className="badge">private</span> : null}
        {s.retired ? <span className="badge">retired</span> : null}
      </td>
      <td title={s.owner}>{shortHex(s.owner)}</td>
      <td>{priceModel(s.pricing)}</td>
      <td>{providers.data ? `${providers.data.providers.length} of ${s.minReplicas}–${s.maxReplicas}` : providers.isError ? `? (node: ${providers.error.message})` : "…"}</td>
      <td data-testid={`subscribers-${s.id}`}>{s.subscribers.toString()}</td>
      <td>{st?.requests === 0 ? "no calls" : st?.successRate !== undefined ? `${(st.successRate * 100).toFixed(1)} %` : stats.isPending ? "…" : NOT_REPORTED}</td>
      <td>{st?.requests === 0 ? "no calls" : st ? `${ms(st.p50Ms)} / ${ms(st.p99Ms)}` : stats.isPending ? "…" : NOT_REPORTED}</td>
      <td>{stake === undefined ? (providers.data ? "no providers" : "…") : formatOpen(stake)}</td>
    </tr>
  );
}

export function ServicesPage() {
  const services = useServices();
  const nodes = useNodes();
  const [query, setQuery] = useState("");
  const [showPrivate, setShowPrivate] = useState(true);
  const rows = useMemo(() => filterServices(services.data ?? [], query).filter((r) => showPrivate || r.visibility === "public"), [services.data, query, showPrivate]);
  return (
    <section aria-labelledby="services-title">
      <h1 id="services-title">Services</h1>
      <p className="muted">Every service published on-chain. Provider stake is the lowest bonded stake among its providers' operators — what they lose if they misbehave (whitepaper §5.2).</p>
      <div className="toolbar">
        <label>
          Search services <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="name, #id, owner" />
        </label>
        <label className="inline">
          <input type="checkbox" checked={showPrivate} onChange={(e) => setShowPrivate(e.target.checked)} /> show private services
        </label>
      </div>
      {services.isError ? <p role="alert" className="error">cannot read services from the chain: {services.error.message.split("\n")[0]}</p> : null}
      <table>
        <caption className="sr-only">Services</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Owner</th>
            <th scope="col">Price</th>
            <th scope="col">Replicas</th>
            <th scope="col">Subscribers</th>
            <th scope="col" title="Share of calls answered without error over the last minute, as this node's gateway saw them">Success (1 min)</th>
            <th scope="col">p50 / p99</th>
            <th scope="col">Provider stake</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <ServiceRowView key={s.id.toString()} s={s} nodes={nodes.data} />
          ))}
          {services.isPending ? (
            <tr>
              <td colSpan={8}>loading…</td>
            </tr>
          ) : rows.length === 0 ? (
            <tr>
              <td colSpan={8}>no services match</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}
