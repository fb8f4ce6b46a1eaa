/**
 * `dsmp balance [address]` and `dsmp faucet [amount]`: the OPEN token itself (the faucet only on devnets).
 */
import type { Address } from "viem";
import { drawFaucet } from "../chain/actions/draw-faucet.ts";
import { getTokenBalance } from "../chain/actions/get-token-balance.ts";
import { CliUsageError } from "../errors.ts";
import { connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, GlobalOptions } from "./command-spec.ts";
import { printJson, printLine } from "./output.ts";
import { tokenAmount } from "./transaction-output.ts";
import { checkTokenAmount, parseAddress, parseTokenAmount } from "./value-parsers.ts";

/** What `dsmp faucet` draws when no amount is given: the faucet's maximum. */
export const DEFAULT_FAUCET_DRAW = "1000";

export interface BalanceOptions extends GlobalOptions {
  address: string | undefined;
}

/** `dsmp balance [address]`: OPEN balance of an account (default: the signing account). */
export async function balanceCommand(options: BalanceOptions, io: CliIo): Promise<void> {
  const requested = options.address === undefined ? undefined : parseAddress(options.address, "<address>");
  if (requested === undefined && options.privateKey === undefined) {
    throw new CliUsageError("whose balance? pass an address, or --key / DSMP_PRIVATE_KEY for your own");
  }
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const account: Address = requested ?? client.wallet!.account.address;
  const balance = await getTokenBalance(client, { account });
  if (options.json) {
    printJson(io, { account, balance });
    return;
  }
  printLine(io, tokenAmount(client, balance));
}

export interface FaucetOptions extends GlobalOptions {
  amount: string;
}

/** `dsmp faucet [amount]`: mint test OPEN to the signing account (development chains, once an hour). */
export async function faucetCommand(options: FaucetOptions, io: CliIo): Promise<void> {
  const text = checkTokenAmount(options.amount, "<amount>");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const amount = parseTokenAmount(text, "<amount>", client.token.decimals);
  const result = await drawFaucet(client, { amount, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, amount });
    return;
  }
  printLine(io, `received ${tokenAmount(client, amount)} from the faucet (tx ${result.hash})`);
}

export const tokenCommands: readonly CliCommand[] = [
  {
    path: ["balance"],
    summary: "show the OPEN balance of an account",
    positionals: [{ name: "address", description: "account (default: the signing account)", optional: true }],
    examples: ["dsmp balance", "dsmp balance 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --json"],
    run: (input, io) => balanceCommand({ ...input.global, address: input.optionalArgument("address") }, io),
  },
  {
    path: ["faucet"],
    summary: "mint test OPEN to the signing account (development chains only)",
    positionals: [{ name: "amount", description: `OPEN to draw, at most 1000 (default ${DEFAULT_FAUCET_DRAW})`, optional: true }],
    examples: ["dsmp faucet", "dsmp faucet 250"],
    run: (input, io) => faucetCommand({ ...input.global, amount: input.optionalArgument("amount") ?? DEFAULT_FAUCET_DRAW }, io),
  },
];
