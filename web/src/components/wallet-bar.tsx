/** Connect / account / wrong-chain prompt. */
import { useConnect, useConnection, useConnectors, useDisconnect, useSwitchChain } from "wagmi";
import { DEV_BURNER_LABEL } from "../burner-wallet.ts";
import { useTokenBalance } from "../chain-reads.ts";
import { useDsmp } from "../dsmp-context.tsx";
import { formatOpen, shortHex } from "../format.ts";

export function WalletBar() {
  const { web } = useDsmp();
  const { address, chainId, status, connector } = useConnection();
  const connectors = useConnectors();
  const connect = useConnect();
  const { disconnect } = useDisconnect();
  const switchChain = useSwitchChain();
  const balance = useTokenBalance(address);

  if (status !== "connected" || address === undefined) {
    const seen = new Set<string>();
    const hasWindowEthereum = typeof window !== "undefined" && (window as { ethereum?: unknown }).ethereum !== undefined;
    const list = connectors.filter((c) => (c.id === "injected" && !hasWindowEthereum) || seen.has(c.name) ? false : (seen.add(c.name), true));
    return (
      <section className="wallet" aria-label="Wallet">
        <span className="muted">{status === "connecting" || status === "reconnecting" ? "connecting…" : "not connected"}</span>
        {list.map((c) => (
          <button
            key={c.uid}
            type="button"
            className={c.name === DEV_BURNER_LABEL ? "burner" : undefined}
            onClick={() => connect.mutate({ connector: c, chainId: web.chainId })}
            disabled={connect.isPending}
          >
            Connect {c.name === "Injected" ? "browser wallet" : c.name}
          </button>
        ))}
        {list.length === 0 ? <span>no wallet found — install a browser wallet</span> : null}
        {connect.error ? (
          <span role="alert" className="error">
            could not connect: {connect.error.message.split("\n")[0]}
          </span>
        ) : null}
      </section>
    );
  }
  const wrongChain = chainId !== web.chainId;
  return (
    <section className="wallet" aria-label="Wallet">
      <span data-testid="account" title={address}>
        {shortHex(address)}
      </span>
      <span className="muted">via {connector?.name === DEV_BURNER_LABEL ? <strong className="burner-label">{DEV_BURNER_LABEL}</strong> : (connector?.name ?? "wallet")}</span>
      <span data-testid="open-balance">{balance.data === undefined ? "…" : formatOpen(balance.data)}</span>
      <button type="button" onClick={() => disconnect()}>
        Disconnect
      </button>
      {wrongChain ? (
        <div role="alert" className="wrong-chain">
          Your wallet is on chain {chainId}; DSMP here runs on chain {web.chainId}.{" "}
          <button type="button" onClick={() => switchChain.mutate({ chainId: web.chainId })} disabled={switchChain.isPending}>
            Switch to chain {web.chainId}
          </button>
          {switchChain.error ? <span className="error"> {switchChain.error.message.split("\n")[0]}</span> : null}
        </div>
      ) : null}
    </section>
  );
}

/** True when a wallet is connected to the right chain: forms that write check it. */
export function useWriteReady(): { ready: boolean; reason: string } {
  const { web } = useDsmp();
  const { address, chainId } = useConnection();
  if (address === undefined) return { ready: false, reason: "connect a wallet to do this" };
  if (chainId !== web.chainId) return { ready: false, reason: `switch your wallet to chain ${web.chainId} first` };
  return { ready: true, reason: "" };
}
