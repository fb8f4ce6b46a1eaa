import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, sendTransaction } from "../transactions.ts";

export interface WithdrawParameters {
  signal?: AbortSignal | undefined;
}

export interface WithdrawReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Tokens sent back to the account. */
  amount: bigint;
}

export type WithdrawErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Withdraw all released unbonding stake of the client's account (Staking.withdraw).
 * @throws {ChainRevertError} `StakingUnbondingNotReleased` before the delay ends, `StakingNothingToWithdraw`.
 * @example
 * const { amount } = await withdraw(client);
 */
export async function withdraw(client: DsmpChainClient, parameters: WithdrawParameters = {}): Promise<WithdrawReturnType> {
  const { hash, receipt } = await sendTransaction(
    client,
    "withdraw",
    (wallet) => wallet.writeContract({ address: client.contracts.staking, abi: abis.Staking, functionName: "withdraw" }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.Staking, "Withdrawn", client.contracts.staking);
  return { hash, txHashes: [hash], amount: event.args.amount };
}
