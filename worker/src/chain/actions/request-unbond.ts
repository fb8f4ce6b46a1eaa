import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, sendTransaction } from "../transactions.ts";

export interface RequestUnbondParameters {
  /** Free stake to move into unbonding, in the token's smallest unit (> 0). */
  amount: bigint;
  signal?: AbortSignal | undefined;
}

export interface RequestUnbondReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Total unbonding afterwards (earlier requests included). */
  unbonding: bigint;
  /** When the whole unbonding total can be withdrawn (unix seconds); each request restarts the delay. */
  releaseAt: bigint;
}

export type RequestUnbondErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Start unbonding `amount` of the client account's free stake (Staking.requestUnbond). The tokens stay
 * slashable until `releaseAt`, then {@link withdraw} sends them back.
 * @throws {ChainRevertError} `StakingInsufficientFreeStake` when `amount` exceeds the free stake.
 * @example
 * const { releaseAt } = await requestUnbond(client, { amount: parseEther("50") });
 */
export async function requestUnbond(client: DsmpChainClient, parameters: RequestUnbondParameters): Promise<RequestUnbondReturnType> {
  const { hash, receipt } = await sendTransaction(
    client,
    "unbond",
    (wallet) =>
      wallet.writeContract({ address: client.contracts.staking, abi: abis.Staking, functionName: "requestUnbond", args: [parameters.amount] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.Staking, "UnbondRequested", client.contracts.staking);
  return { hash, txHashes: [hash], unbonding: event.args.unbonding, releaseAt: BigInt(event.args.releaseAt) };
}
