import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, requireWallet, sendTransaction } from "../transactions.ts";
import { ensureAllowance, type TokenApproval } from "./ensure-allowance.ts";

export interface StakeParameters {
  /** Amount to add to the caller's bonded stake, in the token's smallest unit (> 0). */
  amount: bigint;
  signal?: AbortSignal | undefined;
}

export interface StakeReturnType {
  /** The `stake` transaction. */
  hash: Hex;
  /** Every transaction sent, in order (an approval first when the allowance was short). */
  txHashes: Hex[];
  approval: TokenApproval | undefined;
  /** Bonded stake of the caller afterwards. */
  bonded: bigint;
}

export type StakeErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Stake `amount` of OPEN for the client's account (Staking.stake), approving Staking first when its allowance
 * is short.
 * @throws {ChainRevertError} e.g. `ERC20InsufficientBalance`, `StakingZeroAmount`.
 * @example
 * const { hash, bonded } = await stake(client, { amount: parseEther("100") });
 */
export async function stake(client: DsmpChainClient, parameters: StakeParameters): Promise<StakeReturnType> {
  const { amount, signal } = parameters;
  const account = requireWallet(client, "stake").account;
  const request = { address: client.contracts.staking, abi: abis.Staking, functionName: "stake", args: [amount] } as const;
  const approval = await ensureAllowance(client, {
    spender: client.contracts.staking,
    amount,
    preflight: () => client.public.simulateContract({ ...request, account }),
    signal,
  });
  const { hash, receipt } = await sendTransaction(client, "stake", (wallet) => wallet.writeContract(request), { signal });
  const staked = findEvent(receipt, abis.Staking, "Staked", client.contracts.staking);
  return { hash, txHashes: approval === undefined ? [hash] : [approval.hash, hash], approval, bonded: staked.args.bonded };
}
