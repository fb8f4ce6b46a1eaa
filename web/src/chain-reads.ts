/** Chain reads the pages share, as react-query hooks over the public client (refreshed every few seconds). */
import { abis } from "@dsmp/contracts";
import { useQuery } from "@tanstack/react-query";
import type { Address } from "viem";
import { useDsmp } from "./dsmp-context.tsx";

export interface ServiceRow {
  id: bigint;
  name: string;
  owner: Address;
  kind: "http" | "task";
  visibility: "public" | "private";
  retired: boolean;
  pricing: { perCall: bigint; perPeriod: bigint; periodSeconds: bigint; oneTime: bigint; oneTimeDuration: bigint };
  minReplicas: number;
  maxReplicas: number;
  minProviderStake: bigint;
  metadataURI: string;
  subscribers: bigint;
}

export function useServices() {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["services"],
    queryFn: async (): Promise<ServiceRow[]> => {
      const count = await client.readContract({ address: contracts.services, abi: abis.ServiceRegistry, functionName: "serviceCount" });
      const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
      return Promise.all(
        ids.map(async (id) => {
          const [s, subscribers] = await Promise.all([
            client.readContract({ address: contracts.services, abi: abis.ServiceRegistry, functionName: "getService", args: [id] }),
            client.readContract({ address: contracts.subscriptions, abi: abis.Subscriptions, functionName: "subscriberCount", args: [id] }),
          ]);
          return {
            id,
            name: s.name,
            owner: s.owner,
            kind: s.kind === 0 ? "http" : "task",
            visibility: s.visibility === 0 ? "public" : "private",
            retired: s.status === 1,
            pricing: { perCall: s.pricing.perCall, perPeriod: s.pricing.perPeriod, periodSeconds: s.pricing.periodSeconds, oneTime: s.pricing.oneTime, oneTimeDuration: s.pricing.oneTimeDuration },
            minReplicas: s.minReplicas,
            maxReplicas: s.maxReplicas,
            minProviderStake: s.minProviderStake,
            metadataURI: s.metadataURI,
            subscribers,
          } satisfies ServiceRow;
        }),
      );
    },
  });
}

export const NODE_STATUS_NAMES = ["none", "active", "jailed", "retired"] as const;

export interface NodeRow {
  address: Address;
  operator: Address;
  status: (typeof NODE_STATUS_NAMES)[number];
  slots: number;
  bond: bigint;
  resources: { cpuMillicores: number; memoryMiB: number; storageGiB: number; gpus: number };
  registeredAt: bigint;
  metadataURI: string;
  /** The operator's bonded stake: the accountability signal (whitepaper §5.2). */
  operatorStake: bigint;
}

async function readNode(client: ReturnType<typeof useDsmp>["client"], contracts: ReturnType<typeof useDsmp>["contracts"], address: Address): Promise<NodeRow> {
  const n = await client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "getNode", args: [address] });
  const stake = await client.readContract({ address: contracts.staking, abi: abis.Staking, functionName: "stakeOf", args: [n.operator] });
  return {
    address,
    operator: n.operator,
    status: NODE_STATUS_NAMES[n.status] ?? "none",
    slots: n.slots,
    bond: n.bond,
    resources: { ...n.resources },
    registeredAt: n.registeredAt,
    metadataURI: n.metadataURI,
    operatorStake: stake.bonded,
  };
}

export function useNodes() {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["nodes"],
    queryFn: async (): Promise<NodeRow[]> => {
      const count = await client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "nodeCount" });
      const addresses = await Promise.all(
        Array.from({ length: Number(count) }, (_, i) => client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "nodeAt", args: [BigInt(i)] })),
      );
      return Promise.all(addresses.map((a) => readNode(client, contracts, a)));
    },
  });
}

export function useNodesOf(operator: Address | undefined) {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["nodesOf", operator],
    enabled: operator !== undefined,
    queryFn: async () => {
      const list = await client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "nodesOf", args: [operator!] });
      return Promise.all(list.map((a) => readNode(client, contracts, a)));
    },
  });
}

export function useTokenBalance(account: Address | undefined) {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["balance", account],
    enabled: account !== undefined,
    queryFn: () => client.readContract({ address: contracts.token, abi: abis.OpenToken, functionName: "balanceOf", args: [account!] }),
  });
}

/** The latest block's timestamp (chain time, which a devnet may have moved ahead of the wall clock). */
export function useChainTime() {
  const { client } = useDsmp();
  return useQuery({
    queryKey: ["chainTime"],
    queryFn: async () => {
      const block = await client.getBlock();
      return { chainSeconds: Number(block.timestamp), wallMs: Date.now() };
    },
  });
}
