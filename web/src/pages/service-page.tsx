/** One service: terms, providers, metrics charts, the subscribe / renew / cancel panel and, priced per call, the escrow panel. */
import { abis } from "@dsmp/contracts";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { Abi, Address } from "viem";
import { useConnection } from "wagmi";
import { useChainTime, useNodes, useServices, type ServiceRow } from "../chain-reads.ts";
import { LineChart, type Point } from "../components/charts.tsx";
import { useWriteReady } from "../components/wallet-bar.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { formatDuration, formatOpen, formatUtc, priceModel, shortHex } from "../format.ts";
import type { ServiceStats } from "../node-api.ts";
import { TxStatus, useTxRunner } from "../tx-runner.tsx";
import { EscrowPanel } from "./escrow-panel.tsx";
import { NOT_REPORTED, useProviders, useServiceStats } from "./services-page.tsx";

/** Keeps the last `max` samples of a changing value (what this page has seen since it opened). */
export function useHistory(sample: ServiceStats | null | undefined, max = 60) {
  const [history, setHistory] = useState<{ t: number; s: ServiceStats }[]>([]);
  const last = useRef<ServiceStats | null | undefined>(undefined);
  useEffect(() => {
    if (sample && sample !== last.current) {
      last.current = sample;
      setHistory((h) => [...h, { t: Date.now(), s: sample }].slice(-max));
    }
  }, [sample, max]);
  return history;
}

function useSubscription(serviceId: bigint, account: Address | undefined) {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["subscription", serviceId.toString(), account],
    enabled: account !== undefined,
    queryFn: async () => {
      const args = [serviceId, account!] as const;
      const [sub, active, expiresAt, refund, allowed] = await Promise.all([
        client.readContract({ address: contracts.subscriptions, abi: abis.Subscriptions, functionName: "getSubscription", args }),
        client.readContract({ address: contracts.subscriptions, abi: abis.Subscriptions, functionName: "isActive", args }),
        client.readContract({ address: contracts.subscriptions, abi: abis.Subscriptions, functionName: "expiresAt", args }),
        client.readContract({ address: contracts.subscriptions, abi: abis.Subscriptions, functionName: "refundPreview", args }),
        client.readContract({ address: contracts.services, abi: abis.ServiceRegistry, functionName: "isAllowed", args: [serviceId, account!, []] }),
      ]);
      return { sub, active, expiresAt, refund, allowed };
    },
  });
}

function SubscribePanel({ service }: { service: ServiceRow }) {
  const { contracts } = useDsmp();
  const { address } = useConnection();
  const write = useWriteReady();
  const sub = useSubscription(service.id, address);
  const time = useChainTime();
  const tx = useTxRunner();
  const [periods, setPeriods] = useState(1);
  const [usePermit, setUsePermit] = useState(false);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const p = service.pricing;
  const recurring = p.perPeriod > 0n;
  const oneTime = p.oneTime > 0n;
  const subscriptions = contracts.subscriptions;
  const S = abis.Subscriptions as Abi;

  if (!write.ready) return <p className="muted">{write.reason}.</p>;
  if (service.retired) return <p>This service is retired: no new subscriptions.</p>;
  if (sub.isPending) return <p>reading your subscription…</p>;
  if (sub.isError) return <p role="alert" className="error">cannot read your subscription: {sub.error.message.split("\n")[0]}</p>;
  const s = sub.data;
  if (service.visibility === "private" && !s.allowed) {
    return (
      <p role="alert" className="not-allowed" data-testid="not-allowed">
        Not allowed: this service is private and your account {shortHex(address!)} is not on its allow-list. Ask its owner ({shortHex(service.owner)}) to grant you access.
      </p>
    );
  }
  if (!recurring && !oneTime) {
    if (p.perCall > 0n) return <p>No subscription: this service is paid per call from your escrow (below){service.visibility === "private" ? "; your account is on its allow-list" : ""}.</p>;
    return <p>Free service: no subscription needed{service.visibility === "private" ? " (your account is on its allow-list)" : ""}.</p>;
  }
  const now = time.data ? time.data.chainSeconds : Math.floor(Date.now() / 1000);
  const total = p.perPeriod * BigInt(Math.max(1, periods));
  return (
    <div className="panel">
      <p data-testid="subscription-status" data-active={s.active}>
        {s.active
          ? `Active until ${formatUtc(s.expiresAt)} (${formatDuration(Number(s.expiresAt) - now)} left)${s.sub.paidUntil > 0n ? `, ${formatOpen(s.sub.balance)} in escrow` : ""}`
          : s.expiresAt > 0n
            ? `Expired at ${formatUtc(s.expiresAt)}`
            : "Not subscribed"}
      </p>
      {recurring ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void tx.run(async (t) => {
              const verb = s.active ? "renew" : "subscribe";
              if (usePermit) {
                const permit = await t.permit(subscriptions, total);
                await t.write(verb, { address: subscriptions, abi: S, functionName: "subscribeWithPermit", args: [service.id, periods, p.perPeriod, [], permit] });
              } else {
                await t.ensureAllowance(subscriptions, total);
                await t.write(verb, { address: subscriptions, abi: S, functionName: verb, args: [service.id, periods, p.perPeriod, []] });
              }
              return `${s.active ? "renewed" : "subscribed"} for ${periods} × ${formatDuration(p.periodSeconds)} (${formatOpen(total)})${usePermit ? " with a permit" : ""}`;
            });
          }}
        >
          <label>
            Periods of {formatDuration(p.periodSeconds)}
            <input type="number" min={1} max={120} required value={periods} onChange={(e) => setPeriods(Math.max(1, Math.floor(Number(e.target.value) || 1)))} />
          </label>
          <label className="inline">
            <input type="checkbox" checked={usePermit} onChange={(e) => setUsePermit(e.target.checked)} /> pay with a permit signature (ERC-2612) instead of an approval transaction
          </label>
          <span>
            total {formatOpen(total)} ({usePermit ? "sign a permit, then" : "approve, then"} {s.active ? "renew" : "subscribe"})
          </span>
          <button type="submit" disabled={tx.busy}>
            {s.active ? "Renew" : "Subscribe"}
          </button>
        </form>
      ) : null}
      {oneTime ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void tx.run(async (t) => {
              await t.ensureAllowance(subscriptions, p.oneTime);
              await t.write("pay once", { address: subscriptions, abi: S, functionName: "subscribeOnce", args: [service.id, p.oneTime, []] });
              return `paid ${formatOpen(p.oneTime)} once for ${formatDuration(p.oneTimeDuration)}`;
            });
          }}
        >
          <span>
            One-time: {formatOpen(p.oneTime)} for {formatDuration(p.oneTimeDuration)}
          </span>
          <button type="submit" disabled={tx.busy}>
            Pay once
          </button>
        </form>
      ) : null}
      {s.active && s.sub.balance > 0n ? (
        confirmCancel ? (
          <div className="confirm" role="group" aria-label="Confirm cancel">
            <p data-testid="refund-preview">Cancelling now refunds {formatOpen(s.refund)} (the unused part of your escrow, prorated).</p>
            <button
              type="button"
              disabled={tx.busy}
              onClick={() => {
                setConfirmCancel(false);
                void tx.run(async (t) => {
                  await t.write("cancel", { address: subscriptions, abi: S, functionName: "cancel", args: [service.id] });
                  return `cancelled; refund about ${formatOpen(s.refund)}`;
                });
              }}
            >
              Cancel and refund {formatOpen(s.refund)}
            </button>
            <button type="button" onClick={() => setConfirmCancel(false)}>
              Keep subscription
            </button>
          </div>
        ) : (
          <button type="button" onClick={() => setConfirmCancel(true)} disabled={tx.busy}>
            Cancel subscription…
          </button>
        )
      ) : null}
      <TxStatus state={tx.state} testId="subscribe-tx" />
    </div>
  );
}

export function ServicePage({ id }: { id: bigint }) {
  const services = useServices();
  const nodes = useNodes();
  const providers = useProviders(id);
  const stats = useServiceStats(id);
  const history = useHistory(stats.data);
  const service = services.data?.find((s) => s.id === id);
  if (services.isPending) return <p>loading…</p>;
  if (!service) return <p role="alert">No service #{id.toString()} on this chain.</p>;
  const nodeByAddress = new Map((nodes.data ?? []).map((n) => [n.address.toLowerCase(), n]));
  const series = (key: "p50Ms" | "p95Ms" | "p99Ms" | "rps", name: string, color: string) => ({
    name,
    color,
    points: history.flatMap((h): Point[] => (h.s[key] === undefined ? [] : [{ t: h.t, v: h.s[key]! }])),
  });
  return (
    <section aria-labelledby="service-title">
      <h1 id="service-title">
        {service.name} <span className="muted">#{service.id.toString()}</span>
      </h1>
      <dl className="facts">
        <dt>Owner</dt>
        <dd title={service.owner}>{service.owner}</dd>
        <dt>Kind</dt>
        <dd>{service.kind}</dd>
        <dt>Visibility</dt>
        <dd>{service.visibility}</dd>
        <dt>Price</dt>
        <dd>{priceModel(service.pricing)}</dd>
        <dt>Replicas wanted</dt>
        <dd>
          {service.minReplicas}–{service.maxReplicas}
        </dd>
        <dt>Subscribers</dt>
        <dd>{service.subscribers.toString()}</dd>
        <dt>Metadata</dt>
        <dd>{service.metadataURI || "—"}</dd>
      </dl>
      <h2>Subscribe</h2>
      <SubscribePanel service={service} />
      {service.pricing.perCall > 0n ? (
        <>
          <h2>Pay per call</h2>
          <EscrowPanel service={service} />
        </>
      ) : null}
      <h2>Providers</h2>
      {providers.isError ? <p className="error">node: {providers.error.message}</p> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">PeerId</th>
            <th scope="col">Load</th>
            <th scope="col">Version</th>
            <th scope="col">Operator stake</th>
          </tr>
        </thead>
        <tbody>
          {(providers.data?.providers ?? []).map((p) => (
            <tr key={p.peerId}>
              <td title={p.node}>{shortHex(p.node)}</td>
              <td title={p.peerId}>{`${p.peerId.slice(0, 12)}…`}</td>
              <td>{(p.load / 100).toFixed(1)} %</td>
              <td>{p.version}</td>
              <td>{nodeByAddress.get(p.node.toLowerCase()) ? formatOpen(nodeByAddress.get(p.node.toLowerCase())!.operatorStake) : "…"}</td>
            </tr>
          ))}
          {providers.data?.providers.length === 0 ? (
            <tr>
              <td colSpan={5}>no provider announced it yet</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <h2>Metrics</h2>
      {stats.data === null ? (
        <p data-testid="stats-missing">Latency, uptime and success rate: {NOT_REPORTED} (this node does not serve per-service stats).</p>
      ) : (
        <>
          <LineChart title="Latency seen by this node" unit="ms" series={[series("p50Ms", "p50", "#1d4ed8"), series("p95Ms", "p95", "#b45309"), series("p99Ms", "p99", "#b91c1c")]} />
          <LineChart title="Requests per second" unit="req/s" series={[series("rps", "rps", "#047857")]} />
          {stats.data ? <GoldenSignals stats={stats.data} /> : null}
        </>
      )}
    </section>
  );
}

const pct = (v: number | undefined) => (v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
const msOf = (v: number | undefined) => (v === undefined ? "—" : `${v.toFixed(1)} ms`);

/** The node's last-minute window for this service: the total, then one row per provider it tried. */
export function GoldenSignals({ stats }: { stats: ServiceStats }) {
  const rows = [{ provider: "all providers", ...stats }, ...(stats.providers ?? [])];
  return (
    <table data-testid="golden-signals" aria-label="Golden signals over the last minute, as this node's gateway saw them">
      <thead>
        <tr>
          <th scope="col">Provider</th>
          <th scope="col">Requests</th>
          <th scope="col">Success</th>
          <th scope="col">rps</th>
          <th scope="col">p50</th>
          <th scope="col">p95</th>
          <th scope="col">p99</th>
          <th scope="col">Breaker</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={`${i}-${r.provider}`}>
            <th scope="row" title={r.provider}>{i === 0 ? r.provider : `${r.provider.slice(0, 12)}…`}</th>
            <td>{r.requests ?? "—"}</td>
            <td>{r.requests === 0 ? "—" : pct(r.successRate)}</td>
            <td>{r.rps === undefined ? "—" : r.rps.toFixed(1)}</td>
            <td>{msOf(r.p50Ms)}</td>
            <td>{msOf(r.p95Ms)}</td>
            <td>{msOf(r.p99Ms)}</td>
            <td>{"breaker" in r && typeof r.breaker === "string" ? r.breaker : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
