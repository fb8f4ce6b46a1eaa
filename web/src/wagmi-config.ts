/**
 * wagmi for the chain the node names: injected wallets (window.ethereum and every EIP-6963 announcer), plus
 * the dev burner on chain 31337 only.
 */
import { QueryClient } from "@tanstack/react-query";
import { defineChain, http, type Chain } from "viem";
import { createConfig, injected, type Config } from "wagmi";
import { createBurnerProvider, DEV_BURNER_LABEL, DEV_CHAIN_ID } from "./burner-wallet.ts";
import type { WebConfig } from "./web-config.ts";

export function chainOf(web: WebConfig): Chain {
  return defineChain({
    id: web.chainId,
    name: web.chainId === DEV_CHAIN_ID ? "DSMP devnet" : `Chain ${web.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [web.rpcUrl] } },
  });
}

export function createDsmpWagmiConfig(web: WebConfig): Config {
  const chain = chainOf(web);
  const connectors = [injected({ shimDisconnect: true })];
  if (web.chainId === DEV_CHAIN_ID) {
    const burner = createBurnerProvider({ chainId: web.chainId, rpcUrl: web.rpcUrl });
    connectors.push(injected({ target: { id: "dsmpDevBurner", name: DEV_BURNER_LABEL, provider: burner as never }, shimDisconnect: true }));
  }
  return createConfig({
    chains: [chain],
    connectors,
    transports: { [chain.id]: http(web.rpcUrl, { retryCount: 1 }) },
    multiInjectedProviderDiscovery: true,
    ssr: false,
  });
}

/** Reads refresh every few seconds and keep their last value while the chain or node is briefly away. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: { queries: { refetchInterval: 4_000, retry: 1, staleTime: 2_000, refetchOnWindowFocus: false } },
  });
}
