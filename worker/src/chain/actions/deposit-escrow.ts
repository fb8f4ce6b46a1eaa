import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type {
  ChainAccountRequiredError,
  ChainRevertError,
  ChainUnreachableError,
  DeploymentInvalidError,
  InterruptedError,
} from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, readChain, requireWallet, sendTransaction } from "../transactions.ts";
import { ensureAllowance, type TokenApproval } from "./ensure-allowance.ts";
import { requireUsageEscrow } from "./usage-escrow-address.ts";

export interface DepositEscrowParameters {
  serviceId: bigint;
  /** Tokens to add (0 only re-agrees to the current price). */
  amount: bigint;
  /**
   * Highest per-call price accepted; protects against the owner raising it between the read and the
   * transaction. @default the current price
   */
  maxPricePerCall?: bigint | undefined;
  /** Fund another consumer's escrow (UsageEscrow.depositFor); it keeps the price it agreed to. */
  consumer?: Address | undefined;
  signal?: AbortSignal | undefined;
}

export interface DepositEscrowReturnType {
  hash: Hex;
  txHashes: Hex[];
  approval: TokenApproval | undefined;
  consumer: Address;
  amount: bigint;
  /** Escrow balance afterwards. */
  balance: bigint;
  /** The price per call the escrow now pays. */
  pricePerCall: bigint;
}

export type DepositEscrowErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Fund a per-call escrow (UsageEscrow.deposit, or depositFor with `consumer`), approving UsageEscrow first
 * when the allowance is short. A deposit by the consumer itself agrees to the service's current price.
 * @throws {ChainRevertError} `UsageEscrowNotPerCall`, `UsageEscrowServiceRetired`, `UsageEscrowPriceAboveMax`,
 *   `ERC20InsufficientBalance`, `ServiceRegistryUnknownService`.
 * @example
 * const { balance } = await depositEscrow(client, { serviceId: 4n, amount: parseEther("1") });
 */
export async function depositEscrow(client: DsmpChainClient, parameters: DepositEscrowParameters): Promise<DepositEscrowReturnType> {
  const { serviceId, amount, signal } = parameters;
  const account = requireWallet(client, "deposit into the usage escrow").account;
  const address = requireUsageEscrow(client);
  const terms = await readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "termsOf", args: [serviceId] }),
  );
  const maxPrice = parameters.maxPricePerCall ?? terms.pricing.perCall;
  const consumer = parameters.consumer ?? account.address;
  const own = parameters.consumer === undefined;
  const deposit = { address, abi: abis.UsageEscrow, functionName: "deposit", args: [serviceId, amount, maxPrice] } as const;
  const depositFor = { address, abi: abis.UsageEscrow, functionName: "depositFor", args: [serviceId, consumer, amount, maxPrice] } as const;
  const approval = await ensureAllowance(client, {
    spender: address,
    amount,
    preflight: () => (own ? client.public.simulateContract({ ...deposit, account }) : client.public.simulateContract({ ...depositFor, account })),
    signal,
  });
  const { hash, receipt } = await sendTransaction(client, "deposit", (wallet) => (own ? wallet.writeContract(deposit) : wallet.writeContract(depositFor)), { signal });
  const event = findEvent(receipt, abis.UsageEscrow, "Deposited", address);
  return {
    hash,
    txHashes: approval === undefined ? [hash] : [approval.hash, hash],
    approval,
    consumer: event.args.consumer,
    amount: event.args.amount,
    balance: event.args.balance,
    pricePerCall: event.args.pricePerCall,
  };
}
