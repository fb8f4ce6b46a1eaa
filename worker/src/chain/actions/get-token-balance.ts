import { abis } from "@dsmp/contracts";
import type { Address } from "viem";
import type { ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";

export interface GetTokenBalanceParameters {
  account: Address;
}

/** Balance in the token's smallest unit. */
export type GetTokenBalanceReturnType = bigint;
export type GetTokenBalanceErrorType = ChainUnreachableError | InterruptedError;

/**
 * OPEN balance of `account` (the deployment's token, ERC20.balanceOf).
 * @example
 * const balance = await getTokenBalance(client, { account: "0x7099…79C8" });
 */
export async function getTokenBalance(client: DsmpChainClient, parameters: GetTokenBalanceParameters): Promise<GetTokenBalanceReturnType> {
  return readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.token, abi: abis.OpenToken, functionName: "balanceOf", args: [parameters.account] }),
  );
}
