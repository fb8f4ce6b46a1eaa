/**
 * The client every chain action takes first: a viem public client, an optional wallet client (the account
 * that signs), the DSMP contract addresses of one deployment and the payment token's units. Creating it
 * checks that the RPC endpoint answers and serves the deployment's chain, so an action never sends a
 * transaction to the wrong network.
 */
import type { Deployment } from "@dsmp/contracts";
import { abis } from "@dsmp/contracts";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { ChainMismatchError, type ChainUnreachableError } from "../errors.ts";
import { deployedAddress, REQUIRED_DEPLOYED_CONTRACTS } from "./deployment-file.ts";
import type { TokenUnits } from "./display-units.ts";
import { toChainError, type ChainErrorContext } from "./revert-errors.ts";

/** Addresses of the DSMP contracts of one deployment. */
export interface DsmpContractAddresses {
  /** The payment and staking token (OPEN). */
  token: Address;
  staking: Address;
  xnodeRegistry: Address;
  serviceRegistry: Address;
  subscriptions: Address;
  /** Absent from deployments made before LeaseEscrow existed. */
  leaseEscrow: Address | undefined;
  /** Absent from deployments made before TaskManager existed. */
  taskManager: Address | undefined;
  /** Per-call escrow; absent from deployments made before UsageEscrow existed. */
  usageEscrow: Address | undefined;
}

export type DsmpPublicClient = PublicClient<Transport, Chain>;
export type DsmpWalletClient = WalletClient<Transport, Chain, Account>;

/** What every action in `chain/actions/` takes as its first argument. */
export interface DsmpChainClient {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly public: DsmpPublicClient;
  /** `undefined` for a read-only client; write actions then throw ChainAccountRequiredError. */
  readonly wallet: DsmpWalletClient | undefined;
  readonly contracts: DsmpContractAddresses;
  /** Symbol and decimals of {@link DsmpContractAddresses.token}, read from the chain. */
  readonly token: TokenUnits;
  /** Blocks a transaction must be buried under before an action returns. */
  readonly confirmations: number;
  /** What error messages need: the RPC URL, the token units, contract names by address. */
  readonly errorContext: ChainErrorContext;
}

/**
 * Each HTTP request may take this long. Long enough for a public RPC under load, short enough that a CLI
 * user whose endpoint hangs hears about it.
 */
export const DEFAULT_RPC_TIMEOUT_MS = 15_000;
/**
 * How often to poll for a receipt. Hardhat mines at once, public chains every few seconds; half a second
 * costs little and makes local runs snappy (viem's default is 4 s).
 */
export const DEFAULT_POLLING_INTERVAL_MS = 500;
/** One retry: a dropped connection is retried once, a dead endpoint is reported quickly. */
export const DEFAULT_RPC_RETRY_COUNT = 1;

export interface CreateDsmpChainClientParameters {
  rpcUrl: string;
  deployment: Deployment;
  /** Where the deployment came from (a file path), named when it belongs to another chain. */
  deploymentSource?: string | undefined;
  /** The account that signs transactions; omit for a read-only client. */
  account?: Account | undefined;
  /** @default 1 */
  confirmations?: number | undefined;
  /** @default {@link DEFAULT_RPC_TIMEOUT_MS} */
  timeoutMs?: number | undefined;
  /** @default {@link DEFAULT_POLLING_INTERVAL_MS} */
  pollingIntervalMs?: number | undefined;
  /** Aborts every RPC request of the client (an action then throws InterruptedError). */
  signal?: AbortSignal | undefined;
}

export type CreateDsmpChainClientReturnType = DsmpChainClient;
export type CreateDsmpChainClientErrorType = ChainMismatchError | ChainUnreachableError;

/**
 * Connect to the chain of `deployment` at `rpcUrl`.
 * @throws {ChainUnreachableError} when the endpoint does not answer.
 * @throws {ChainMismatchError} when it serves another chain than the deployment's.
 * @example
 * const client = await createDsmpChainClient({
 *   rpcUrl: "http://127.0.0.1:8545",
 *   deployment: await readDeploymentFile("deployments/31337.json"),
 *   account: privateKeyToAccount(key),
 * });
 */
export async function createDsmpChainClient(parameters: CreateDsmpChainClientParameters): Promise<CreateDsmpChainClientReturnType> {
  const { rpcUrl, deployment } = parameters;
  const timeout = parameters.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  const rpcChainId = await fetchChainId(rpcUrl, { timeoutMs: timeout, signal: parameters.signal });
  if (rpcChainId !== deployment.chainId) {
    throw new ChainMismatchError({ deploymentChainId: deployment.chainId, rpcChainId, rpcUrl, source: parameters.deploymentSource });
  }
  const chain = defineChain({
    id: rpcChainId,
    name: `chain-${rpcChainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl, { timeout, retryCount: DEFAULT_RPC_RETRY_COUNT, fetchOptions: { signal: parameters.signal } });
  const pollingInterval = parameters.pollingIntervalMs ?? DEFAULT_POLLING_INTERVAL_MS;
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  const wallet =
    parameters.account === undefined ? undefined : createWalletClient({ chain, transport, account: parameters.account, pollingInterval });

  const required = (name: (typeof REQUIRED_DEPLOYED_CONTRACTS)[number]) => deployedAddress(deployment, name)!;
  const contracts: DsmpContractAddresses = {
    token: required("OpenToken"),
    staking: required("Staking"),
    xnodeRegistry: required("XnodeRegistry"),
    serviceRegistry: required("ServiceRegistry"),
    subscriptions: required("Subscriptions"),
    leaseEscrow: deployedAddress(deployment, "LeaseEscrow"),
    taskManager: deployedAddress(deployment, "TaskManager"),
    usageEscrow: deployedAddress(deployment, "UsageEscrow"),
  };
  const contractNames = new Map(Object.entries(deployment.contracts).map(([name, entry]) => [entry.address.toLowerCase(), name]));
  const baseContext: ChainErrorContext = { rpcUrl, contractNames };
  let token: TokenUnits;
  try {
    const [symbol, decimals] = await Promise.all([
      publicClient.readContract({ address: contracts.token, abi: abis.OpenToken, functionName: "symbol" }),
      publicClient.readContract({ address: contracts.token, abi: abis.OpenToken, functionName: "decimals" }),
    ]);
    token = { symbol, decimals };
  } catch (error) {
    throw toChainError(error, baseContext);
  }
  return {
    rpcUrl,
    chainId: rpcChainId,
    public: publicClient,
    wallet,
    contracts,
    token,
    confirmations: parameters.confirmations ?? 1,
    errorContext: { ...baseContext, token },
  };
}

/**
 * The chain id an RPC endpoint serves (no retry: used to probe).
 * @throws {ChainUnreachableError} when it does not answer.
 * @example await fetchChainId("http://127.0.0.1:8545") // 31337
 */
export async function fetchChainId(
  rpcUrl: string,
  options: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<number> {
  const probe = createPublicClient({
    transport: http(rpcUrl, { retryCount: 0, timeout: options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, fetchOptions: { signal: options.signal } }),
  });
  try {
    return await probe.getChainId();
  } catch (error) {
    throw toChainError(error, { rpcUrl });
  }
}

/** The account of a client that must sign, or undefined for a read-only client. */
export function clientAccount(client: DsmpChainClient): Address | undefined {
  return client.wallet?.account.address;
}
