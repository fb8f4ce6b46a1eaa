import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";

/** Most one faucet draw hands out (OpenToken.FAUCET_AMOUNT_MAX, 1 000 OPEN). */
export const FAUCET_MAX_DRAW = 1_000n * 10n ** 18n;

export interface DrawFaucetParameters {
  /** In the token's smallest unit (≤ {@link FAUCET_MAX_DRAW}). */
  amount: bigint;
  signal?: AbortSignal | undefined;
}

export interface DrawFaucetReturnType {
  hash: Hex;
  txHashes: Hex[];
  amount: bigint;
}

export type DrawFaucetErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Mint test OPEN to the client's account from the token's faucet (development chains 31337 / 1337 only,
 * once an hour per account).
 * @throws {ChainRevertError} `OpenTokenFaucetDisabled`, `OpenTokenFaucetCooldown`, `OpenTokenFaucetAmountTooLarge`.
 * @example
 * await drawFaucet(client, { amount: parseEther("1000") });
 */
export async function drawFaucet(client: DsmpChainClient, parameters: DrawFaucetParameters): Promise<DrawFaucetReturnType> {
  const { hash } = await sendTransaction(
    client,
    "faucet",
    (wallet) => wallet.writeContract({ address: client.contracts.token, abi: abis.OpenToken, functionName: "faucet", args: [parameters.amount] }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash], amount: parameters.amount };
}
