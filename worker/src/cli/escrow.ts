/**
 * Per-call payment (UsageEscrow): `dsmp escrow deposit|withdraw|show <id>` for consumers, and
 * `dsmp usage claims` / `dsmp usage claim` for provider operators (they ask a running node, which holds the
 * served calls and signs the claims with its key).
 */
import type { Address } from "viem";
import { depositEscrow } from "../chain/actions/deposit-escrow.ts";
import { getEscrow } from "../chain/actions/get-escrow.ts";
import { cancelEscrowWithdrawal, requestEscrowWithdrawal, withdrawEscrow } from "../chain/actions/withdraw-escrow.ts";
import { CliUsageError } from "../errors.ts";
import type { SettlementRound } from "../mesh/access/usage-settler.ts";
import { connectChain } from "./chain-connection.ts";
import { CONTROL_API_OPTION, controlApiFailure, controlApiUrl } from "./control-api.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput } from "./command-spec.ts";
import { fetchOrExplain } from "./node-daemon.ts";
import { printFields, printJson, printLine, printTable } from "./output.ts";
import { approvalJson, printApproval, tokenAmount, utcTime } from "./transaction-output.ts";
import { checkTokenAmount, parseAddress, parseId, parseTokenAmount } from "./value-parsers.ts";

const idArgument = { name: "id", description: "service id of a per-call priced service" } as const;

/** `dsmp escrow deposit <id> <amount>`: fund the signing account's escrow for a per-call service. */
export async function escrowDepositCommand(input: CommandInput, io: CliIo): Promise<void> {
  const serviceId = parseId(input.argument("id"), "<id>");
  const amountText = input.argument("amount");
  checkTokenAmount(amountText, "<amount>");
  const maxPriceText = input.string("max-price");
  if (maxPriceText !== undefined) checkTokenAmount(maxPriceText, "--max-price");
  const forText = input.string("for");
  const consumer = forText === undefined ? undefined : parseAddress(forText, "--for");
  const client = await connectChain(input.global, { signs: true, signal: io.signal });
  const amount = parseTokenAmount(amountText, "<amount>", client.token.decimals);
  const maxPricePerCall = maxPriceText === undefined ? undefined : parseTokenAmount(maxPriceText, "--max-price", client.token.decimals);
  const result = await depositEscrow(client, { serviceId, amount, maxPricePerCall, consumer, signal: io.signal });
  if (input.global.json) {
    printJson(io, { txHashes: result.txHashes, approval: approvalJson(result.approval), serviceId, consumer: result.consumer, amount: result.amount, balance: result.balance, pricePerCall: result.pricePerCall });
    return;
  }
  printApproval(io, client, result.approval);
  const calls = result.pricePerCall === 0n ? "" : ` (${result.balance / result.pricePerCall} calls at ${tokenAmount(client, result.pricePerCall)})`;
  printLine(io, `deposited ${tokenAmount(client, result.amount)} for service ${serviceId}: escrow ${tokenAmount(client, result.balance)}${calls} (tx ${result.hash})`);
}

/**
 * `dsmp escrow withdraw <id> [<amount>]`: without a pending request, ask to withdraw (all by default) and
 * say when; with one whose delay has passed, take it; `--cancel` drops the request.
 */
export async function escrowWithdrawCommand(input: CommandInput, io: CliIo): Promise<void> {
  const serviceId = parseId(input.argument("id"), "<id>");
  const amountText = input.optionalArgument("amount");
  if (amountText !== undefined) checkTokenAmount(amountText, "<amount>");
  const cancel = input.flag("cancel");
  if (cancel && amountText !== undefined) throw new CliUsageError("--cancel takes no <amount>");
  const client = await connectChain(input.global, { signs: true, signal: io.signal });
  const consumer = client.wallet!.account.address;
  if (cancel) {
    const result = await cancelEscrowWithdrawal(client, { serviceId, signal: io.signal });
    if (input.global.json) printJson(io, { txHashes: result.txHashes, serviceId, cancelled: true });
    else printLine(io, `withdrawal request for service ${serviceId} cancelled (tx ${result.hash})`);
    return;
  }
  const escrow = await getEscrow(client, { serviceId, consumer });
  if (escrow.pendingWithdrawal > 0n && amountText === undefined) {
    // Too early reverts at gas estimation (nothing is sent) with UsageEscrowWithdrawalLocked, phrased with the time.
    const result = await withdrawEscrow(client, { serviceId, signal: io.signal });
    if (input.global.json) {
      printJson(io, { txHashes: result.txHashes, serviceId, withdrawn: result.amount, balance: result.balance });
      return;
    }
    printLine(io, `withdrew ${tokenAmount(client, result.amount)} from the escrow of service ${serviceId}; ${tokenAmount(client, result.balance)} left (tx ${result.hash})`);
    return;
  }
  const amount = amountText === undefined ? escrow.balance : parseTokenAmount(amountText, "<amount>", client.token.decimals);
  if (amount === 0n) throw new CliUsageError(`the escrow of service ${serviceId} is empty: nothing to withdraw`);
  const result = await requestEscrowWithdrawal(client, { serviceId, amount, signal: io.signal });
  if (input.global.json) {
    printJson(io, { txHashes: result.txHashes, serviceId, requested: result.amount, withdrawableAt: result.withdrawableAt });
    return;
  }
  printLine(
    io,
    `asked to withdraw ${tokenAmount(client, result.amount)} from service ${serviceId}: providers may claim the calls they served until ${utcTime(result.withdrawableAt)}; run \`dsmp escrow withdraw ${serviceId}\` then (tx ${result.hash})`,
  );
}

/** `dsmp escrow show <id>`: an account's per-call escrow for a service. */
export async function escrowShowCommand(input: CommandInput, io: CliIo): Promise<void> {
  const serviceId = parseId(input.argument("id"), "<id>");
  const addressText = input.string("address");
  const requested = addressText === undefined ? undefined : parseAddress(addressText, "--address");
  if (requested === undefined && input.global.privateKey === undefined) {
    throw new CliUsageError("whose escrow? pass --address <address>, or --key / DSMP_PRIVATE_KEY for your own");
  }
  const client = await connectChain(input.global, { signs: false, signal: io.signal });
  const consumer: Address = requested ?? client.wallet!.account.address;
  const escrow = await getEscrow(client, { serviceId, consumer });
  if (input.global.json) {
    printJson(io, escrow);
    return;
  }
  const outdated = escrow.pricePerCall !== 0n && escrow.pricePerCall < escrow.currentPricePerCall;
  printFields(io, [
    ["service", String(serviceId)],
    ["consumer", consumer],
    ["balance", tokenAmount(client, escrow.balance)],
    ["agreed price per call", escrow.pricePerCall === 0n ? "none (never deposited)" : tokenAmount(client, escrow.pricePerCall)],
    ["current price per call", `${tokenAmount(client, escrow.currentPricePerCall)}${outdated ? " (higher: providers refuse calls until you deposit again, any amount)" : ""}`],
    ["calls covered", String(escrow.callsCovered)],
    [
      "pending withdrawal",
      escrow.pendingWithdrawal === 0n ? "none" : `${tokenAmount(client, escrow.pendingWithdrawal)}, from ${utcTime(escrow.withdrawableAt)}`,
    ],
  ]);
}


/** `dsmp usage claims`: how many served calls a node has waiting to be claimed. */
export async function usageClaimsCommand(input: CommandInput, io: CliIo): Promise<void> {
  const api = controlApiUrl(input);
  const res = await fetchOrExplain(`${api}/v1/usage/claims`, { signal: io.signal }, "the node's control API");
  if (!res.ok) throw await controlApiFailure(res, api);
  const status = (await res.json()) as { enabled: boolean; autoClaim: boolean; pending: number; held: number };
  if (input.global.json) {
    printJson(io, status);
    return;
  }
  if (!status.enabled) {
    printLine(io, "per-call settlement is off: the node's deployment has no UsageEscrow");
    return;
  }
  printFields(io, [
    ["calls waiting", String(status.pending)],
    ["of which held (no or too little escrow)", String(status.held)],
    ["automatic claims", status.autoClaim ? "on" : "off (usage.autoClaim)"],
  ]);
}

/** `dsmp usage claim`: make a running node claim every claimable served call now. */
export async function usageClaimCommand(input: CommandInput, io: CliIo): Promise<void> {
  const api = controlApiUrl(input);
  if (!input.global.json) printLine(io, `asking ${api} to claim its served per-call calls (one transaction per 256 calls)…`);
  const res = await fetchOrExplain(`${api}/v1/usage/claims`, { method: "POST", signal: io.signal }, "the node's control API");
  if (!res.ok) throw await controlApiFailure(res, api);
  const round = (await res.json()) as SettlementRound;
  if (input.global.json) {
    printJson(io, round);
    return;
  }
  if (round.claims.length === 0) {
    printLine(io, `nothing to claim: ${round.pending} calls waiting, ${round.held} of them held for lack of escrow`);
    return;
  }
  printTable(
    io,
    [
      { header: "service", cell: (c) => c.serviceId },
      { header: "calls", cell: (c) => String(c.calls), alignRight: true },
      { header: "paid", cell: (c) => (c.paid === undefined ? "-" : String(c.paid)), alignRight: true },
      { header: "rejected", cell: (c) => (c.rejected === undefined ? "-" : Object.entries(c.rejected).map(([r, n]) => `${r} ${n}`).join(", ") || "0") },
      { header: "gross (wei)", cell: (c) => c.gross ?? "-", alignRight: true },
      { header: "tx / error", cell: (c) => c.hash ?? c.error ?? "" },
    ],
    round.claims,
  );
  printLine(io, `${round.pending} calls still waiting (${round.held} held for lack of escrow)`);
}


export const escrowCommands: readonly CliCommand[] = [
  {
    path: ["escrow", "deposit"],
    summary: "fund your per-call escrow for a service (agrees to its current price per call)",
    description:
      "Deposit into UsageEscrow for a service priced per call. Providers serve your calls while the escrow covers them and later claim one price per\ncall with the access tokens your gateway signed. A deposit by you records the current price as the one you agree to (capped by --max-price);\nif the owner raises it, providers refuse your calls until you deposit again (any amount, even 0). UsageEscrow is approved first when needed.",
    positionals: [idArgument, { name: "amount", description: "tokens to add, e.g. 1.5 (0 re-agrees to the current price)" }],
    options: [
      { name: "max-price", type: "string", value: "<amount>", description: "highest price per call accepted (default: the current price)" },
      { name: "for", type: "string", value: "<address>", description: "fund another consumer's escrow (it keeps the price it agreed to)" },
    ],
    examples: ["dsmp escrow deposit 4 1", "dsmp escrow deposit 4 0 --max-price 0.02"],
    run: escrowDepositCommand,
  },
  {
    path: ["escrow", "withdraw"],
    summary: "take escrow back: request (starts the delay), then withdraw once it passed",
    description:
      "Withdrawals are delayed (UsageEscrow.withdrawalDelay) so providers can claim the calls they served. Without a pending request this asks to\nwithdraw <amount> (default: all) and prints when; run it again after that time to receive min(requested, what is left after claims).",
    positionals: [idArgument, { name: "amount", description: "tokens to request (default: the whole balance)", optional: true }],
    options: [{ name: "cancel", type: "boolean", description: "drop the pending request instead" }],
    examples: ["dsmp escrow withdraw 4", "dsmp escrow withdraw 4 0.5", "dsmp escrow withdraw 4 --cancel"],
    run: escrowWithdrawCommand,
  },
  {
    path: ["escrow", "show"],
    summary: "show an account's per-call escrow for a service",
    positionals: [idArgument],
    options: [{ name: "address", type: "string", value: "<address>", description: "consumer to show (default: the signing account)" }],
    examples: ["dsmp escrow show 4", "dsmp escrow show 4 --address 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --json"],
    run: escrowShowCommand,
  },
  {
    path: ["usage", "claims"],
    summary: "served per-call calls a node has waiting to be claimed",
    options: [CONTROL_API_OPTION],
    examples: ["dsmp usage claims --api http://127.0.0.1:4662"],
    run: usageClaimsCommand,
  },
  {
    path: ["usage", "claim"],
    summary: "make a node claim payment for every claimable served call now",
    description:
      "Nodes claim automatically (usage.autoClaim, at the latest usage.claimMaxDelayMs after a call, sooner when a consumer asks to withdraw);\nthis claims now. The node signs with its own key and needs gas; payment goes to its operator minus the protocol fee.",
    options: [CONTROL_API_OPTION],
    examples: ["dsmp usage claim --api http://127.0.0.1:4662", "dsmp usage claim --json"],
    run: usageClaimCommand,
  },
];
