import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { chainRevertError } from "../revert-errors.ts";
import { readChain, requireWallet, sendTransaction } from "../transactions.ts";

export interface EnsureAllowanceParameters {
  /** The contract that will pull the tokens (Staking, Subscriptions, …). */
  spender: Address;
  /** What the next call will pull, in the token's smallest unit. */
  amount: bigint;
  /**
   * Simulates the call that needs the allowance. Run before approving when the allowance is short: a revert
   * other than `ERC20InsufficientAllowance` (not allow-listed, price above max, …) is thrown as is, so no
   * approval is spent on a call that would fail anyway.
   */
  preflight?: (() => Promise<unknown>) | undefined;
  signal?: AbortSignal | undefined;
}

/** An approval that was sent. */
export interface TokenApproval {
  hash: Hex;
  spender: Address;
  /** The new allowance: exactly what the call needs. */
  amount: bigint;
  previousAllowance: bigint;
}

/** `undefined` when the allowance already covered `amount`. */
export type EnsureAllowanceReturnType = TokenApproval | undefined;
export type EnsureAllowanceErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Make sure `spender` may pull `amount` of the payment token from the client's account: when the allowance is
 * short, check the balance, run the preflight, then send one `approve(spender, amount)` — exactly what is
 * needed, never an unlimited allowance.
 * @throws {ChainRevertError} `ERC20InsufficientBalance` when the account holds less than `amount` (nothing sent);
 *   the preflight's revert when the call would fail for another reason.
 * @example
 * const approval = await ensureAllowance(client, { spender: client.contracts.staking, amount: parseEther("90") });
 * if (approval) console.log(`approved in ${approval.hash}`);
 */
export async function ensureAllowance(client: DsmpChainClient, parameters: EnsureAllowanceParameters): Promise<EnsureAllowanceReturnType> {
  const owner = requireWallet(client, "approve").account.address;
  const { spender, amount } = parameters;
  const token = client.contracts.token;
  const previousAllowance = await readChain(client, (pub) =>
    pub.readContract({ address: token, abi: abis.OpenToken, functionName: "allowance", args: [owner, spender] }),
  );
  if (previousAllowance >= amount) return undefined;
  const balance = await readChain(client, (pub) =>
    pub.readContract({ address: token, abi: abis.OpenToken, functionName: "balanceOf", args: [owner] }),
  );
  if (parameters.preflight !== undefined) {
    try {
      await readChain(client, parameters.preflight);
    } catch (error) {
      const expected = (error as Partial<ChainRevertError>).errorName;
      if (expected !== "ERC20InsufficientAllowance" && expected !== "ERC20InsufficientBalance") throw error;
    }
  }
  if (balance < amount) throw chainRevertError("ERC20InsufficientBalance", [owner, balance, amount], client.errorContext);
  const { hash } = await sendTransaction(
    client,
    "approve",
    (wallet) => wallet.writeContract({ address: token, abi: abis.OpenToken, functionName: "approve", args: [spender, amount] }),
    { signal: parameters.signal },
  );
  return { hash, spender, amount, previousAllowance };
}
