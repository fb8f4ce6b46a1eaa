/** Resource leases: capacity offers, open a lease, watch its accrued cost, close early with a refund preview. */
import { abis } from "@dsmp/contracts";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import type { Abi, Address } from "viem";
import { useConnection } from "wagmi";
import { useWriteReady } from "../components/wallet-bar.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { formatDuration, formatOpen, formatUtc, shortHex } from "../format.ts";
import { TxStatus, useTxRunner } from "../tx-runner.tsx";
import { parseOpenInput } from "./operate-page.tsx";

export const LEASE_STATUS_NAMES = ["none", "active", "closing", "ended", "terminated"] as const;

function useOffers(leases: Address) {
  const { client } = useDsmp();
  return useQuery({
    queryKey: ["offers"],
    queryFn: async () => {
      const count = await client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "offerCount" });
      return Promise.all(
        Array.from({ length: Number(count) }, async (_, i) => {
          const id = BigInt(i + 1);
          return { id, offer: await client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "getOffer", args: [id] }) };
        }),
      );
    },
  });
}

function useMyLeases(leases: Address, account: Address | undefined) {
  const { client } = useDsmp();
  return useQuery({
    queryKey: ["leases", account],
    enabled: account !== undefined,
    queryFn: async () => {
      const ids = await client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "leasesOfLessee", args: [account!] });
      return Promise.all(
        ids.map(async (id) => {
          const [lease, accrued, refund] = await Promise.all([
            client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "getLease", args: [id] }),
            client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "accruedOf", args: [id] }),
            client.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "closePreview", args: [id] }).catch(() => undefined),
          ]);
          return { id, lease, accrued, refund };
        }),
      );
    },
  });
}

function Leases({ leases }: { leases: Address }) {
  const { address } = useConnection();
  const write = useWriteReady();
  const offers = useOffers(leases);
  const mine = useMyLeases(leases, address);
  const tx = useTxRunner();
  const [offerId, setOfferId] = useState("");
  const [deposit, setDeposit] = useState("");
  const [closing, setClosing] = useState<bigint | undefined>(undefined);
  const L = abis.LeaseEscrow as Abi;
  const active = (offers.data ?? []).filter((o) => o.offer.active);
  return (
    <>
      <h2>Offers</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Offer</th>
            <th scope="col">Node</th>
            <th scope="col">Resources</th>
            <th scope="col">Price</th>
            <th scope="col">Duration</th>
            <th scope="col">Leases</th>
          </tr>
        </thead>
        <tbody>
          {(offers.data ?? []).map(({ id, offer: o }) => (
            <tr key={id.toString()}>
              <td>#{id.toString()}{o.active ? "" : " (inactive)"}</td>
              <td title={o.node}>{shortHex(o.node)}</td>
              <td>
                {o.resources.cpuMillicores / 1000} CPU · {o.resources.memoryMiB} MiB · {o.resources.storageGiB} GiB
              </td>
              <td>{formatOpen(o.pricePerSecond * 3600n)} / hour</td>
              <td>
                {formatDuration(o.minDuration)} – {formatDuration(o.maxDuration)}
              </td>
              <td>
                {o.activeLeases} / {o.maxLeases}
              </td>
            </tr>
          ))}
          {offers.data?.length === 0 ? (
            <tr>
              <td colSpan={6}>no capacity offered yet (operators post offers with LeaseEscrow.postOffer)</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {!write.ready ? (
        <p className="muted">{write.reason}.</p>
      ) : (
        <>
          <h2>Open a lease</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const chosen = active.find((o) => o.id.toString() === offerId);
              const amount = parseOpenInput(deposit);
              if (!chosen || amount === undefined) return;
              void tx.run(async (t) => {
                await t.ensureAllowance(leases, amount);
                await t.write("open lease", { address: leases, abi: L, functionName: "openLease", args: [chosen.id, amount, chosen.offer.pricePerSecond] });
                return `lease opened on offer #${chosen.id} with ${formatOpen(amount)} (≈ ${formatDuration(amount / chosen.offer.pricePerSecond)})`;
              });
            }}
          >
            <label>
              Offer
              <select value={offerId} onChange={(e) => setOfferId(e.target.value)} required>
                <option value="">choose…</option>
                {active.map((o) => (
                  <option key={o.id.toString()} value={o.id.toString()}>
                    #{o.id.toString()} — {formatOpen(o.offer.pricePerSecond * 3600n)}/h
                  </option>
                ))}
              </select>
            </label>
            <label>
              Deposit (OPEN)
              <input inputMode="decimal" value={deposit} onChange={(e) => setDeposit(e.target.value)} required />
            </label>
            <button type="submit" disabled={tx.busy || active.length === 0}>
              Open lease
            </button>
          </form>
          <h2>My leases</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Lease</th>
                <th scope="col">Status</th>
                <th scope="col">Ends</th>
                <th scope="col">Deposit</th>
                <th scope="col">Accrued cost</th>
                <th scope="col">Close early</th>
              </tr>
            </thead>
            <tbody>
              {(mine.data ?? []).map(({ id, lease, accrued, refund }) => (
                <tr key={id.toString()}>
                  <td>#{id.toString()}</td>
                  <td>{LEASE_STATUS_NAMES[lease.status] ?? lease.status}</td>
                  <td>{formatUtc(lease.end)}</td>
                  <td>{formatOpen(lease.deposit)}</td>
                  <td>{formatOpen(accrued)}</td>
                  <td>
                    {lease.status === 1 && refund !== undefined ? (
                      closing === id ? (
                        <>
                          <span>refund {formatOpen(refund)} </span>
                          <button
                            type="button"
                            onClick={() => {
                              setClosing(undefined);
                              void tx.run(async (t) => {
                                await t.write("close lease", { address: leases, abi: L, functionName: "close", args: [id] });
                                return `lease #${id} closing; refund about ${formatOpen(refund)}`;
                              });
                            }}
                          >
                            Close lease #{id.toString()} and refund {formatOpen(refund)}
                          </button>
                        </>
                      ) : (
                        <button type="button" onClick={() => setClosing(id)}>
                          Close lease #{id.toString()}…
                        </button>
                      )
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
              {mine.data?.length === 0 ? (
                <tr>
                  <td colSpan={6}>no leases</td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <TxStatus state={tx.state} testId="lease-tx" />
        </>
      )}
    </>
  );
}

export function LeasesPage() {
  const { contracts } = useDsmp();
  return (
    <section aria-labelledby="leases-title">
      <h1 id="leases-title">Leases</h1>
      {contracts.leases ? <Leases leases={contracts.leases} /> : <p role="status">LeaseEscrow not deployed on this chain.</p>}
    </section>
  );
}
