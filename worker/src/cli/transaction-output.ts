/**
 * How chain results print: amounts with the token's symbol, times in UTC, the approval step a write may
 * have needed, and contract names instead of bare addresses where the deployment knows them.
 */
import type { Address } from "viem";
import type { TokenApproval } from "../chain/actions/ensure-allowance.ts";
import type { DsmpChainClient } from "../chain/chain-client.ts";
import { formatTokenAmount, formatUtcTime } from "../chain/display-units.ts";
import type { CliIo } from "./cli-io.ts";
import { printLine } from "./output.ts";

/** `value` in the client's token: `90 OPEN`. */
export function tokenAmount(client: DsmpChainClient, value: bigint): string {
  return formatTokenAmount(value, client.token);
}

/** A unix time, or `never` for 0. */
export function utcTime(seconds: bigint): string {
  return seconds === 0n ? "never" : formatUtcTime(seconds);
}

/** `Staking` for the deployment's Staking address, the address itself otherwise. */
export function contractName(client: DsmpChainClient, address: Address): string {
  return client.errorContext.contractNames?.get(address.toLowerCase()) ?? address;
}

/** The approval step of a write, when there was one: `approved Staking to spend 90 OPEN (tx 0x…)`. */
export function printApproval(io: CliIo, client: DsmpChainClient, approval: TokenApproval | undefined): void {
  if (approval === undefined) return;
  printLine(io, `approved ${contractName(client, approval.spender)} to spend ${tokenAmount(client, approval.amount)} (tx ${approval.hash})`);
}

/** The approval step in `--json` output (null when none was needed). */
export function approvalJson(approval: TokenApproval | undefined) {
  return approval === undefined ? null : { hash: approval.hash, spender: approval.spender, amount: approval.amount };
}
