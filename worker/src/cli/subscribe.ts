/**
 * `dsmp subscribe <id>`, `dsmp unsubscribe <id>`, `dsmp subscription <id>`: a consumer's access to services.
 */
import type { Address } from "viem";
import { cancelSubscription } from "../chain/actions/cancel-subscription.ts";
import { getSubscription } from "../chain/actions/get-subscription.ts";
import { subscribe } from "../chain/actions/subscribe.ts";
import { subscribeOnce } from "../chain/actions/subscribe-once.ts";
import { CliUsageError } from "../errors.ts";
import { connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, GlobalOptions } from "./command-spec.ts";
import { printFields, printJson, printLine } from "./output.ts";
import { approvalJson, printApproval, tokenAmount, utcTime } from "./transaction-output.ts";
import { checkTokenAmount, parseAddress, parseId, parseInteger, parseTokenAmount } from "./value-parsers.ts";

const UINT32_MAX = 2 ** 32 - 1;

export interface SubscribeOptions extends GlobalOptions {
  serviceId: string;
  /** Periods to pay for; `undefined` = 1 (or one-time with `once`). */
  periods: string | undefined;
  /** Buy one-time access instead of periods. */
  once: boolean;
  /** Highest price accepted (per period, or the one-time price); default the current price. */
  maxPrice: string | undefined;
}

/** `dsmp subscribe <id>`: pay for recurring periods (default 1) or, with `--once`, one-time access. */
export async function subscribeCommand(options: SubscribeOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  if (options.once && options.periods !== undefined) throw new CliUsageError("--once and --periods exclude each other");
  const periods = options.periods === undefined ? 1 : parseInteger(options.periods, "--periods", { min: 1, max: UINT32_MAX });
  if (options.maxPrice !== undefined) checkTokenAmount(options.maxPrice, "--max-price");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const maxPrice = options.maxPrice === undefined ? undefined : parseTokenAmount(options.maxPrice, "--max-price", client.token.decimals);

  if (options.once) {
    const result = await subscribeOnce(client, { serviceId, maxPrice, signal: io.signal });
    if (options.json) {
      printJson(io, { txHashes: result.txHashes, approval: approvalJson(result.approval), serviceId, price: result.price, oneTimeUntil: result.oneTimeUntil });
      return;
    }
    printApproval(io, client, result.approval);
    printLine(
      io,
      `bought one-time access to service ${serviceId} for ${tokenAmount(client, result.price)}: access until ${utcTime(result.oneTimeUntil)} (tx ${result.hash})`,
    );
    return;
  }
  const result = await subscribe(client, { serviceId, periods, maxPricePerPeriod: maxPrice, signal: io.signal });
  if (options.json) {
    printJson(io, {
      txHashes: result.txHashes,
      approval: approvalJson(result.approval),
      serviceId,
      periods,
      pricePerPeriod: result.pricePerPeriod,
      deposit: result.deposit,
      balance: result.balance,
      paidUntil: result.paidUntil,
    });
    return;
  }
  printApproval(io, client, result.approval);
  const plural = periods === 1 ? "period" : "periods";
  printLine(
    io,
    `subscribed to service ${serviceId} for ${periods} ${plural} (${tokenAmount(client, result.deposit)} in escrow): access until ${utcTime(result.paidUntil)} (tx ${result.hash})`,
  );
}

export interface UnsubscribeOptions extends GlobalOptions {
  serviceId: string;
}

/** `dsmp unsubscribe <id>`: end the recurring subscription now and get the unreleased escrow back. */
export async function unsubscribeCommand(options: UnsubscribeOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const result = await cancelSubscription(client, { serviceId, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, serviceId, refund: result.refund, endedAt: result.endedAt });
    return;
  }
  printLine(io, `unsubscribed from service ${serviceId}: refunded ${tokenAmount(client, result.refund)} (tx ${result.hash})`);
}

export interface SubscriptionStatusOptions extends GlobalOptions {
  serviceId: string;
  /** Whose subscription; the signing account when absent. */
  address: string | undefined;
}

/** `dsmp subscription <id>`: whether an account has access to a service, until when, and what cancelling refunds. */
export async function subscriptionStatusCommand(options: SubscriptionStatusOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  const requested = options.address === undefined ? undefined : parseAddress(options.address, "--address");
  if (requested === undefined && options.privateKey === undefined) {
    throw new CliUsageError("whose subscription? pass --address <address>, or --key / DSMP_PRIVATE_KEY for your own");
  }
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const consumer: Address = requested ?? client.wallet!.account.address;
  const status = await getSubscription(client, { serviceId, consumer });
  if (options.json) {
    printJson(io, status);
    return;
  }
  printFields(io, [
    ["service", String(serviceId)],
    ["consumer", consumer],
    ["access", status.active ? `yes, until ${utcTime(status.expiresAt)}` : status.expiresAt === 0n ? "no" : `no, ended ${utcTime(status.expiresAt)}`],
    ["recurring until", utcTime(status.paidUntil)],
    ["one-time until", utcTime(status.oneTimeUntil)],
    ["escrow", tokenAmount(client, status.balance)],
    ["refund if cancelled", tokenAmount(client, status.refundable)],
  ]);
}

const idArgument = { name: "id", description: "service id (from `dsmp service ls`)" } as const;

export const subscribeCommands: readonly CliCommand[] = [
  {
    path: ["subscribe"],
    summary: "subscribe to a service (recurring periods, or --once)",
    description:
      "Subscribe the signing account to a service. Recurring: deposits periods × the current price per period into escrow, released to the owner\nas time passes (`dsmp unsubscribe` refunds the rest). --once buys one-time access, paid at once and never refunded.\nSubscriptions is approved first when its allowance is short. The price is capped at the current one (or --max-price).",
    positionals: [idArgument],
    options: [
      { name: "periods", type: "string", value: "<n>", description: "recurring periods to pay for (default 1)" },
      { name: "once", type: "boolean", description: "buy one-time access instead" },
      { name: "max-price", type: "string", value: "<amount>", description: "highest price accepted, per period or one-time (default: the current price)" },
    ],
    examples: ["dsmp subscribe 1 --periods 3", "dsmp subscribe 2 --once"],
    run: (input, io) =>
      subscribeCommand(
        {
          ...input.global,
          serviceId: input.argument("id"),
          periods: input.string("periods"),
          once: input.flag("once"),
          maxPrice: input.string("max-price"),
        },
        io,
      ),
  },
  {
    path: ["unsubscribe"],
    summary: "cancel a recurring subscription and get the unused escrow back",
    positionals: [idArgument],
    examples: ["dsmp unsubscribe 1"],
    run: (input, io) => unsubscribeCommand({ ...input.global, serviceId: input.argument("id") }, io),
  },
  {
    path: ["subscription"],
    summary: "show an account's access to a service",
    positionals: [idArgument],
    options: [{ name: "address", type: "string", value: "<address>", description: "consumer to show (default: the signing account)" }],
    examples: ["dsmp subscription 1", "dsmp subscription 1 --address 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --json"],
    run: (input, io) => subscriptionStatusCommand({ ...input.global, serviceId: input.argument("id"), address: input.string("address") }, io),
  },
];
