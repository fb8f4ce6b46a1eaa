/**
 * `dsmp stake <amount>`, `dsmp unbond <amount>`, `dsmp withdraw`, `dsmp stake status`: the operator's OPEN
 * stake in Staking.
 */
import type { Address } from "viem";
import { getStake } from "../chain/actions/get-stake.ts";
import { getTokenBalance } from "../chain/actions/get-token-balance.ts";
import { requestUnbond } from "../chain/actions/request-unbond.ts";
import { stake } from "../chain/actions/stake.ts";
import { withdraw } from "../chain/actions/withdraw.ts";
import { formatDuration } from "../chain/display-units.ts";
import { CliUsageError } from "../errors.ts";
import { connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, GlobalOptions } from "./command-spec.ts";
import { printFields, printJson, printLine } from "./output.ts";
import { approvalJson, printApproval, tokenAmount, utcTime } from "./transaction-output.ts";
import { checkTokenAmount, parseAddress, parseTokenAmount } from "./value-parsers.ts";

export interface AmountCommandOptions extends GlobalOptions {
  /** Decimal amount of whole tokens: `100`, `2.5`. */
  amount: string;
}

/** `dsmp stake <amount>`: add to the signing account's bonded stake (approving Staking when needed). */
export async function stakeCommand(options: AmountCommandOptions, io: CliIo): Promise<void> {
  const text = checkTokenAmount(options.amount, "<amount>", { positive: true });
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const amount = parseTokenAmount(text, "<amount>", client.token.decimals);
  const result = await stake(client, { amount, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, approval: approvalJson(result.approval), amount, bonded: result.bonded });
    return;
  }
  printApproval(io, client, result.approval);
  printLine(io, `staked ${tokenAmount(client, amount)}: bonded ${tokenAmount(client, result.bonded)} (tx ${result.hash})`);
}

/** `dsmp unbond <amount>`: move free stake into unbonding; it is withdrawable after the unbonding delay. */
export async function unbondCommand(options: AmountCommandOptions, io: CliIo): Promise<void> {
  const text = checkTokenAmount(options.amount, "<amount>", { positive: true });
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const amount = parseTokenAmount(text, "<amount>", client.token.decimals);
  const result = await requestUnbond(client, { amount, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, amount, unbonding: result.unbonding, releaseAt: result.releaseAt });
    return;
  }
  printLine(
    io,
    `unbonding ${tokenAmount(client, amount)}: ${tokenAmount(client, result.unbonding)} withdrawable from ${utcTime(result.releaseAt)} with \`dsmp withdraw\` (tx ${result.hash})`,
  );
}

/** `dsmp withdraw`: take back all released unbonding stake. */
export async function withdrawCommand(options: GlobalOptions, io: CliIo): Promise<void> {
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const result = await withdraw(client, { signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, amount: result.amount });
    return;
  }
  printLine(io, `withdrew ${tokenAmount(client, result.amount)} (tx ${result.hash})`);
}

export interface StakeStatusOptions extends GlobalOptions {
  /** Whose stake; the signing account when absent. */
  address: string | undefined;
}

/** `dsmp stake status`: balance, bonded, locked, free and unbonding stake of an account. */
export async function stakeStatusCommand(options: StakeStatusOptions, io: CliIo): Promise<void> {
  const requested = options.address === undefined ? undefined : parseAddress(options.address, "--address");
  if (requested === undefined && options.privateKey === undefined) {
    throw new CliUsageError("whose stake? pass --address <address>, or --key / DSMP_PRIVATE_KEY for your own");
  }
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const account: Address = requested ?? client.wallet!.account.address;
  const [status, balance] = await Promise.all([getStake(client, { operator: account }), getTokenBalance(client, { account })]);
  if (options.json) {
    printJson(io, { account, balance, ...status });
    return;
  }
  const unbonding =
    status.unbonding === 0n
      ? tokenAmount(client, 0n)
      : `${tokenAmount(client, status.unbonding)} (withdrawable from ${utcTime(status.unbondingReleaseAt)})`;
  printFields(io, [
    ["account", account],
    ["balance", tokenAmount(client, balance)],
    ["bonded", tokenAmount(client, status.bonded)],
    ["locked", tokenAmount(client, status.locked)],
    ["free", tokenAmount(client, status.free)],
    ["unbonding", unbonding],
    ["unbonding delay", formatDuration(status.unbondingDelay)],
  ]);
}

const amountArgument = { name: "amount", description: "amount of OPEN in whole tokens, e.g. 100 or 2.5" } as const;

export const stakeCommands: readonly CliCommand[] = [
  {
    path: ["stake"],
    summary: "stake OPEN for the signing account",
    description:
      "Stake OPEN for the signing account. When Staking's allowance is short, one approval of exactly the amount is sent first.\nA node registration locks part of the stake as the node's bond.",
    positionals: [amountArgument],
    examples: ["dsmp stake 100", "DSMP_PRIVATE_KEY=0x… dsmp stake 2.5 --json"],
    run: (input, io) => stakeCommand({ ...input.global, amount: input.argument("amount") }, io),
  },
  {
    path: ["stake", "status"],
    summary: "show balance, bonded, locked, free and unbonding stake",
    options: [{ name: "address", type: "string", value: "<address>", description: "account to show (default: the signing account)" }],
    examples: ["dsmp stake status", "dsmp stake status --address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --json"],
    run: (input, io) => stakeStatusCommand({ ...input.global, address: input.string("address") }, io),
  },
  {
    path: ["unbond"],
    summary: "start unbonding free stake (withdrawable after the unbonding delay)",
    description:
      "Move free stake into unbonding. It stays slashable and is withdrawable with `dsmp withdraw` once the unbonding delay has passed;\neach request restarts the delay for everything unbonding.",
    positionals: [amountArgument],
    examples: ["dsmp unbond 50"],
    run: (input, io) => unbondCommand({ ...input.global, amount: input.argument("amount") }, io),
  },
  {
    path: ["withdraw"],
    summary: "withdraw released unbonding stake",
    examples: ["dsmp withdraw"],
    run: (input, io) => withdrawCommand(input.global, io),
  },
];
