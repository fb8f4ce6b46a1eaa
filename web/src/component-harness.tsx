/**
 * Renders UI pieces the way main.tsx does (wagmi + react-query + DSMP context) for component tests, with
 * wagmi's mock connector standing in for a wallet. Test-only: nothing in the app imports it.
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render } from "@testing-library/react";
import type { ReactNode } from "react";
import { defineChain, type Address } from "viem";
import { createConfig, http, mock, WagmiProvider, type Config } from "wagmi";
import { connect } from "wagmi/actions";
import { createDsmpContextValue, DsmpContext } from "./dsmp-context.tsx";
import type { WebConfig } from "./web-config.ts";

export const TEST_ACCOUNT: Address = "0x00000000000000000000000000000000000000a1";
const addr = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}`;

/** A web config whose RPC URL points at `rpcUrl` (default: a closed port, so chain reads fail fast). */
export function testWebConfig(over: Partial<WebConfig> = {}): WebConfig {
  return {
    chainId: 31337,
    rpcUrl: "http://127.0.0.1:9",
    contracts: { OpenToken: addr(1), Staking: addr(2), XnodeRegistry: addr(3), ServiceRegistry: addr(4), Subscriptions: addr(5), LeaseEscrow: addr(6) },
    node: { address: addr(0xbeef), peerId: "16Uiu2HAmTest" },
    ...over,
  };
}

export interface RenderOptions {
  web?: WebConfig;
  apiBase?: string;
  /** Connect the mock wallet on this chain before rendering (undefined: not connected). */
  connectedChainId?: number;
}

export async function renderWithDsmp(ui: ReactNode, options: RenderOptions = {}) {
  const web = options.web ?? testWebConfig();
  const dev = defineChain({ id: web.chainId, name: "dev", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [web.rpcUrl] } } });
  const other = defineChain({ id: 1, name: "other", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: ["http://127.0.0.1:9"] } } });
  const config: Config = createConfig({
    chains: [dev, other],
    connectors: [mock({ accounts: [TEST_ACCOUNT] })],
    transports: { [dev.id]: http(web.rpcUrl, { retryCount: 0 }), [other.id]: http("http://127.0.0.1:9", { retryCount: 0 }) },
    multiInjectedProviderDiscovery: false,
  });
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchInterval: 200 } } });
  const result = render(
    <WagmiProvider config={config} reconnectOnMount={false}>
      <QueryClientProvider client={queryClient}>
        <DsmpContext value={createDsmpContextValue(web, options.apiBase ?? "http://127.0.0.1:9")}>{ui}</DsmpContext>
      </QueryClientProvider>
    </WagmiProvider>,
  );
  // After the first render: WagmiProvider rehydrates (empty) state on mount, which would undo an earlier connect.
  if (options.connectedChainId !== undefined) {
    const chainId = options.connectedChainId;
    await act(async () => {
      await connect(config, { connector: config.connectors[0]!, chainId });
    });
  }
  return { ...result, config, queryClient };
}
