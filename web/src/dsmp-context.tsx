/** What every page needs: the node it talks to, the chain's addresses and a public client for reads. */
import { createContext, useContext } from "react";
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import type { WebConfig } from "./web-config.ts";
import { chainOf } from "./wagmi-config.ts";

export interface DsmpContextValue {
  web: WebConfig;
  apiBase: string;
  client: PublicClient;
  address: (name: string) => Address | undefined;
  /** The addresses the UI needs; TaskManager, LeaseEscrow and UsageEscrow may be missing. */
  contracts: {
    token: Address;
    staking: Address;
    registry: Address;
    services: Address;
    subscriptions: Address;
    leases?: Address | undefined;
    tasks?: Address | undefined;
    usageEscrow?: Address | undefined;
  };
}

export function createDsmpContextValue(web: WebConfig, apiBase: string): DsmpContextValue {
  const client = createPublicClient({ chain: chainOf(web), transport: http(web.rpcUrl, { retryCount: 1 }) }) as PublicClient;
  const c = web.contracts;
  return {
    web,
    apiBase,
    client,
    address: (name) => c[name],
    contracts: {
      token: c.OpenToken!,
      staking: c.Staking!,
      registry: c.XnodeRegistry!,
      services: c.ServiceRegistry!,
      subscriptions: c.Subscriptions!,
      leases: c.LeaseEscrow,
      tasks: c.TaskManager,
      usageEscrow: c.UsageEscrow,
    },
  };
}

export const DsmpContext = createContext<DsmpContextValue | null>(null);

export function useDsmp(): DsmpContextValue {
  const v = useContext(DsmpContext);
  if (v === null) throw new Error("useDsmp outside <DsmpContext>");
  return v;
}
