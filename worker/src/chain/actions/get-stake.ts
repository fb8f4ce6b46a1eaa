import { abis } from "@dsmp/contracts";
import type { Address } from "viem";
import type { ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";

export interface GetStakeParameters {
  operator: Address;
}

export interface GetStakeReturnType {
  /** Staked and not unbonding; includes `locked`. */
  bonded: bigint;
  /** Part of `bonded` held as collateral (node bonds, tasks, leases). */
  locked: bigint;
  /** `bonded - locked` (0 if a slash pushed bonded below locked): what can be unbonded or bonded to a node. */
  free: bigint;
  /** On its way out; still slashable until `unbondingReleaseAt`. */
  unbonding: bigint;
  /** When `unbonding` can be withdrawn (unix seconds; 0 when nothing is unbonding). */
  unbondingReleaseAt: bigint;
  /** Delay a new unbond request waits (seconds). */
  unbondingDelay: bigint;
}

export type GetStakeErrorType = ChainUnreachableError | InterruptedError;

/**
 * Stake of `operator` (Staking.stakeOf + freeStakeOf + unbondingDelay). All zero if it never staked.
 * @example
 * const { bonded, free } = await getStake(client, { operator: "0x7099…79C8" });
 */
export async function getStake(client: DsmpChainClient, parameters: GetStakeParameters): Promise<GetStakeReturnType> {
  const staking = { address: client.contracts.staking, abi: abis.Staking } as const;
  const [info, free, unbondingDelay] = await readChain(client, (pub) =>
    Promise.all([
      pub.readContract({ ...staking, functionName: "stakeOf", args: [parameters.operator] }),
      pub.readContract({ ...staking, functionName: "freeStakeOf", args: [parameters.operator] }),
      pub.readContract({ ...staking, functionName: "unbondingDelay" }),
    ]),
  );
  return {
    bonded: info.bonded,
    locked: info.locked,
    free,
    unbonding: info.unbonding,
    unbondingReleaseAt: BigInt(info.unbondingReleaseAt),
    unbondingDelay: BigInt(unbondingDelay),
  };
}
