/**
 * Where the UI gets its chain: the node that served the page answers `GET /v1/web-config` with the chain id,
 * a JSON-RPC URL and the contract addresses of its deployments file — nothing is baked in at build time.
 */
import type { Address } from "viem";

/** Mirrors worker/src/node.ts `WebConfig` (the API's type; web/ never imports worker internals). */
export interface WebConfig {
  chainId: number;
  rpcUrl: string;
  contracts: Record<string, Address>;
  node: { address: Address; peerId: string };
}

/** The contracts the UI cannot work without. */
export const REQUIRED_CONTRACTS = ["OpenToken", "Staking", "XnodeRegistry", "ServiceRegistry", "Subscriptions"] as const;

export class WebConfigError extends Error {
  override readonly name = "WebConfigError";
}

/** Checks the shape of a `/v1/web-config` answer; throws a {@link WebConfigError} naming what is wrong. */
export function parseWebConfig(value: unknown): WebConfig {
  const v = value as Partial<WebConfig> | null;
  if (v === null || typeof v !== "object") throw new WebConfigError("web-config is not a JSON object");
  if (typeof v.chainId !== "number" || !Number.isInteger(v.chainId) || v.chainId <= 0) throw new WebConfigError("web-config has no valid chainId");
  if (typeof v.rpcUrl !== "string" || !/^https?:\/\//.test(v.rpcUrl)) throw new WebConfigError("web-config has no http(s) rpcUrl");
  if (v.contracts === undefined || typeof v.contracts !== "object") throw new WebConfigError("web-config has no contracts");
  for (const name of REQUIRED_CONTRACTS) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(v.contracts[name] ?? "")) throw new WebConfigError(`web-config lacks the ${name} address`);
  }
  if (v.node === undefined || typeof v.node.address !== "string") throw new WebConfigError("web-config has no node");
  return v as WebConfig;
}

/** The node API base: the page's origin, or `?api=<url>` (to point a dev server's page at another node). */
export function nodeApiBase(location: Pick<Location, "origin" | "search">): string {
  const api = new URLSearchParams(location.search).get("api");
  return (api ?? location.origin).replace(/\/+$/, "");
}

export async function fetchWebConfig(apiBase: string, signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<WebConfig> {
  let res: Response;
  try {
    res = await fetch(`${apiBase}/v1/web-config`, { signal });
  } catch (err) {
    throw new WebConfigError(`cannot reach the node at ${apiBase}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new WebConfigError(`the node at ${apiBase} answered ${res.status} for /v1/web-config (started without --web?)`);
  return parseWebConfig(await res.json());
}
