/**
 * Pay per call: the connected account's UsageEscrow for a service priced per call — balance, agreed price, calls
 * covered — with deposit (which agrees to the current price), re-agree after a price raise, and the delayed
 * withdrawal (request, then withdraw after the delay, or cancel). docs/access.md "Settlement".
 */
import { abis } from "@dsmp/contracts";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import type { Abi, Address } from "viem";
import { useConnection } from "wagmi";
import { useChainTime, type ServiceRow } from "../chain-reads.ts";
import { useWriteReady } from "../components/wallet-bar.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { escrowView } from "../escrow.ts";
import { formatDuration, formatOpen, formatUtc } from "../format.ts";
import { TxStatus, useTxRunner } from "../tx-runner.tsx";
import { parseOpenInput } from "./operate-page.tsx";

function useEscrowAccount(escrow: Address | undefined, serviceId: bigint, account: Address | undefined) {
  const { client } = useDsmp();
  return useQuery({
    queryKey: ["escrow", serviceId.toString(), account],
    enabled: account !== undefined && escrow !== undefined,
    refetchInterval: 5_000,
    queryFn: () => client.readContract({ address: escrow!, abi: abis.UsageEscrow, functionName: "accountOf", args: [serviceId, account!] }),
  });
}

export function EscrowPanel({ service }: { service: ServiceRow }) {
  const { contracts } = useDsmp();
  const { address } = useConnection();
  const write = useWriteReady();
  const escrow = contracts.usageEscrow;
  const account = useEscrowAccount(escrow, service.id, address);
  const time = useChainTime();
  const tx = useTxRunner();
  const [amount, setAmount] = useState("1");
  const E = abis.UsageEscrow as Abi;

  if (escrow === undefined) return <p className="muted">This deployment has no UsageEscrow: per-call payment is not available.</p>;
  if (!write.ready) return <p className="muted">{write.reason}.</p>;
  if (account.isPending) return <p>reading your escrow…</p>;
  if (account.isError) return <p role="alert" className="error">cannot read your escrow: {account.error.message.split("\n")[0]}</p>;
  const now = time.data ? time.data.chainSeconds : Math.floor(Date.now() / 1000);
  const price = service.pricing.perCall;
  const v = escrowView(account.data, price, now);
  const parsed = parseOpenInput(amount);
  const deposit = (value: bigint, verb: string) =>
    tx.run(async (t) => {
      if (value > 0n) await t.ensureAllowance(escrow, value);
      await t.write(verb, { address: escrow, abi: E, functionName: "deposit", args: [service.id, value, price] });
      await account.refetch();
      return value > 0n ? `deposited ${formatOpen(value)} at ${formatOpen(price)} per call` : `agreed to ${formatOpen(price)} per call`;
    });
  return (
    <div className="panel">
      <p data-testid="escrow-status" data-empty={v.empty} data-outdated={v.outdated}>
        {v.empty
          ? `No escrow yet: providers refuse your calls until you deposit. ${formatOpen(price)} per call.`
          : `${formatOpen(account.data.balance)} in escrow at ${formatOpen(v.chargedPrice)} per call: covers ${v.callsCovered.toString()} call${v.callsCovered === 1n ? "" : "s"}.`}
      </p>
      {v.outdated ? (
        <p role="alert" data-testid="escrow-outdated">
          The owner raised the price from {formatOpen(account.data.pricePerCall)} to {formatOpen(price)} per call: providers refuse your calls until you agree to it.{" "}
          <button type="button" disabled={tx.busy} onClick={() => void deposit(0n, "agree to the new price")}>
            Agree to {formatOpen(price)} per call
          </button>
        </p>
      ) : null}
      {service.retired ? (
        <p>This service is retired: no new deposits.</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (parsed !== undefined) void deposit(parsed, "deposit");
          }}
        >
          <label>
            Deposit (OPEN)
            <input type="text" inputMode="decimal" required value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={parsed === undefined} />
          </label>
          <span>{parsed === undefined || price === 0n ? "enter an amount" : `≈ ${(parsed / price).toString()} calls at ${formatOpen(price)}`}</span>
          <button type="submit" disabled={tx.busy || parsed === undefined}>
            Deposit
          </button>
        </form>
      )}
      {v.withdrawal.kind === "none" && account.data.balance > 0n ? (
        <button
          type="button"
          disabled={tx.busy}
          onClick={() =>
            void tx.run(async (t) => {
              await t.write("request withdrawal", { address: escrow, abi: E, functionName: "requestWithdrawal", args: [service.id, account.data.balance] });
              await account.refetch();
              return `withdrawal of ${formatOpen(account.data.balance)} requested: providers claim what they served first`;
            })
          }
        >
          Withdraw all…
        </button>
      ) : null}
      {v.withdrawal.kind === "waiting" ? (
        <p data-testid="escrow-withdrawal" data-state="waiting">
          Withdrawal of {formatOpen(v.withdrawal.amount)} requested: possible from {formatUtc(v.withdrawal.at)} (in {formatDuration(v.withdrawal.secondsLeft)}); providers claim the calls
          they served until then.{" "}
          <button
            type="button"
            disabled={tx.busy}
            onClick={() =>
              void tx.run(async (t) => {
                await t.write("cancel withdrawal", { address: escrow, abi: E, functionName: "cancelWithdrawal", args: [service.id] });
                await account.refetch();
                return "withdrawal request cancelled";
              })
            }
          >
            Cancel withdrawal
          </button>
        </p>
      ) : null}
      {v.withdrawal.kind === "ready" ? (
        <p data-testid="escrow-withdrawal" data-state="ready">
          <button
            type="button"
            disabled={tx.busy}
            onClick={() => {
              const payable = v.withdrawal.kind === "ready" ? v.withdrawal.payable : 0n;
              void tx.run(async (t) => {
                await t.write("withdraw", { address: escrow, abi: E, functionName: "withdraw", args: [service.id] });
                await account.refetch();
                return `withdrew ${formatOpen(payable)}`;
              });
            }}
          >
            Withdraw {formatOpen(v.withdrawal.payable)}
          </button>
        </p>
      ) : null}
      <TxStatus state={tx.state} testId="escrow-tx" />
    </div>
  );
}
