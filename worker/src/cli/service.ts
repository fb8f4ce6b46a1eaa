/**
 * `dsmp service publish|update|ls|info|retire|grant|revoke`: the on-chain catalogue of Service Mesh Workers.
 */
import { zeroHash, type Address } from "viem";
import { getService, type ServiceRecord } from "../chain/actions/get-service.ts";
import { getSubscriberCount } from "../chain/actions/get-subscriber-count.ts";
import { grantAccess } from "../chain/actions/grant-access.ts";
import { listServices } from "../chain/actions/list-services.ts";
import { publishService, type ServiceDefinition, type ServicePricing } from "../chain/actions/publish-service.ts";
import { retireService } from "../chain/actions/retire-service.ts";
import { revokeAccess } from "../chain/actions/revoke-access.ts";
import { updateService } from "../chain/actions/update-service.ts";
import type { DsmpChainClient } from "../chain/chain-client.ts";
import { SERVICE_KINDS, SERVICE_VISIBILITIES } from "../chain/contract-enums.ts";
import { formatDuration } from "../chain/display-units.ts";
import { CliUsageError } from "../errors.ts";
import { connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput, GlobalOptions, OptionSpec } from "./command-spec.ts";
import { printFields, printJson, printLine, printTable } from "./output.ts";
import { tokenAmount, utcTime } from "./transaction-output.ts";
import { checkTokenAmount, parseAddress, parseBytes32, parseChoice, parseDuration, parseId, parseInteger, parseTokenAmount } from "./value-parsers.ts";

const UINT16_MAX = 2 ** 16 - 1;
/** Decimals that accept any amount's syntax, for checks made before the token's decimals are known. */
const ANY_DECIMALS = 255;

/** Service fields as typed on the command line; `undefined` = not given (publish: default, update: unchanged). */
export interface ServiceFlags {
  name: string | undefined;
  kind: string | undefined;
  visibility: string | undefined;
  pricePerPeriod: string | undefined;
  period: string | undefined;
  oneTimePrice: string | undefined;
  oneTimeDuration: string | undefined;
  perCall: string | undefined;
  minReplicas: string | undefined;
  maxReplicas: string | undefined;
  minStake: string | undefined;
  manifestHash: string | undefined;
  metadata: string | undefined;
}

/** What `publish` starts from: free, public, HTTP, one replica. */
const DEFAULT_SERVICE: Omit<ServiceDefinition, "name"> = {
  kind: "http",
  visibility: "public",
  pricing: { perCall: 0n, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n },
  manifestHash: zeroHash,
  minReplicas: 1,
  maxReplicas: 1,
  minProviderStake: 0n,
  metadataURI: "",
};

/** Check the syntax of every given flag before connecting (usage errors exit 2 without touching the chain). */
function checkServiceFlags(flags: ServiceFlags): void {
  for (const [value, what] of [
    [flags.pricePerPeriod, "--price-per-period"],
    [flags.oneTimePrice, "--one-time-price"],
    [flags.perCall, "--per-call"],
    [flags.minStake, "--min-stake"],
  ] as const) {
    if (value !== undefined) checkTokenAmount(value, what);
  }
  if (flags.kind !== undefined) parseChoice(flags.kind, "--kind", SERVICE_KINDS);
  if (flags.visibility !== undefined) parseChoice(flags.visibility, "--visibility", SERVICE_VISIBILITIES);
  if (flags.period !== undefined) parseDuration(flags.period, "--period");
  if (flags.oneTimeDuration !== undefined) parseDuration(flags.oneTimeDuration, "--one-time-duration");
  if (flags.minReplicas !== undefined) parseInteger(flags.minReplicas, "--min-replicas", { min: 1, max: UINT16_MAX });
  if (flags.maxReplicas !== undefined) parseInteger(flags.maxReplicas, "--max-replicas", { min: 1, max: UINT16_MAX });
  if (flags.manifestHash !== undefined) parseBytes32(flags.manifestHash, "--manifest-hash");
}

/** `base` with the given flags applied; a price without its duration is a usage error. */
export function applyServiceFlags(base: ServiceDefinition, flags: ServiceFlags, decimals: number): ServiceDefinition {
  const amount = (value: string | undefined, what: string, fallback: bigint) =>
    value === undefined ? fallback : parseTokenAmount(value, what, decimals);
  const pricing: ServicePricing = {
    perCall: amount(flags.perCall, "--per-call", base.pricing.perCall),
    perPeriod: amount(flags.pricePerPeriod, "--price-per-period", base.pricing.perPeriod),
    periodSeconds: flags.period === undefined ? base.pricing.periodSeconds : parseDuration(flags.period, "--period"),
    oneTime: amount(flags.oneTimePrice, "--one-time-price", base.pricing.oneTime),
    oneTimeDuration: flags.oneTimeDuration === undefined ? base.pricing.oneTimeDuration : parseDuration(flags.oneTimeDuration, "--one-time-duration"),
  };
  if (pricing.perPeriod > 0n && pricing.periodSeconds === 0n) throw new CliUsageError("--price-per-period needs --period (e.g. 30d)");
  if (pricing.oneTime > 0n && pricing.oneTimeDuration === 0n) throw new CliUsageError("--one-time-price needs --one-time-duration (e.g. 7d)");
  // A duration for a price of zero would publish a free service that looks priced on the command line.
  // (A duration of 0 clears one, with its price at 0.)
  if (flags.period !== undefined && pricing.perPeriod === 0n && pricing.periodSeconds > 0n) {
    throw new CliUsageError("--period sets the length of a paid period: give --price-per-period too");
  }
  if (flags.oneTimeDuration !== undefined && pricing.oneTime === 0n && pricing.oneTimeDuration > 0n) {
    throw new CliUsageError("--one-time-duration goes with --one-time-price: give it too");
  }
  const minReplicas = flags.minReplicas === undefined ? base.minReplicas : parseInteger(flags.minReplicas, "--min-replicas", { min: 1, max: UINT16_MAX });
  const maxReplicas =
    flags.maxReplicas === undefined ? Math.max(base.maxReplicas, minReplicas) : parseInteger(flags.maxReplicas, "--max-replicas", { min: 1, max: UINT16_MAX });
  if (maxReplicas < minReplicas) throw new CliUsageError(`--max-replicas (${maxReplicas}) is below --min-replicas (${minReplicas})`);
  return {
    name: flags.name ?? base.name,
    kind: flags.kind === undefined ? base.kind : parseChoice(flags.kind, "--kind", SERVICE_KINDS),
    visibility: flags.visibility === undefined ? base.visibility : parseChoice(flags.visibility, "--visibility", SERVICE_VISIBILITIES),
    pricing,
    manifestHash: flags.manifestHash === undefined ? base.manifestHash : parseBytes32(flags.manifestHash, "--manifest-hash"),
    minReplicas,
    maxReplicas,
    minProviderStake: amount(flags.minStake, "--min-stake", base.minProviderStake),
    metadataURI: flags.metadata ?? base.metadataURI,
  };
}

export interface ServicePublishOptions extends GlobalOptions, ServiceFlags {}

/** `dsmp service publish`: publish a service owned by the signing account. */
export async function servicePublishCommand(options: ServicePublishOptions, io: CliIo): Promise<void> {
  if (options.name === undefined || options.name === "") throw new CliUsageError("missing --name");
  checkServiceFlags(options);
  // Every flag is known before connecting: check their combination now (any decimals will do for that).
  applyServiceFlags({ ...DEFAULT_SERVICE, name: options.name }, options, ANY_DECIMALS);
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const service = applyServiceFlags({ ...DEFAULT_SERVICE, name: options.name }, options, client.token.decimals);
  const result = await publishService(client, { service, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, serviceId: result.serviceId });
    return;
  }
  printLine(io, `published service ${result.serviceId} ${JSON.stringify(service.name)} (${priceSummary(client, service.pricing)}) (tx ${result.hash})`);
}

export interface ServiceUpdateOptions extends GlobalOptions, ServiceFlags {
  serviceId: string;
}

/** `dsmp service update <id>`: change the given fields of a service, keep the others. */
export async function serviceUpdateCommand(options: ServiceUpdateOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  checkServiceFlags(options);
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const current = await getService(client, { serviceId });
  const service = applyServiceFlags(current, options, client.token.decimals);
  const result = await updateService(client, { serviceId, service, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, serviceId });
    return;
  }
  printLine(io, `updated service ${serviceId} ${JSON.stringify(service.name)} (${priceSummary(client, service.pricing)}) (tx ${result.hash})`);
}

/** `5 OPEN/30d, 1 OPEN once (7d)`; `-` when the service takes no payment. */
export function priceSummary(client: DsmpChainClient, pricing: ServicePricing): string {
  const parts: string[] = [];
  if (pricing.perPeriod > 0n) parts.push(`${tokenAmount(client, pricing.perPeriod)}/${formatDuration(pricing.periodSeconds)}`);
  if (pricing.oneTime > 0n) parts.push(`${tokenAmount(client, pricing.oneTime)} once (${formatDuration(pricing.oneTimeDuration)})`);
  if (pricing.perCall > 0n) parts.push(`${tokenAmount(client, pricing.perCall)}/call`);
  return parts.length === 0 ? "-" : parts.join(", ");
}

type ListedService = ServiceRecord & { subscribers: bigint };

async function withSubscribers(client: DsmpChainClient, services: readonly ServiceRecord[]): Promise<ListedService[]> {
  const counts = await Promise.all(services.map((service) => getSubscriberCount(client, { serviceId: service.id })));
  return services.map((service, i) => ({ ...service, subscribers: counts[i]! }));
}

export interface ServiceListOptions extends GlobalOptions {
  /** Leave out retired services. */
  activeOnly: boolean;
}

/** `dsmp service ls`: every service with its price and subscriber count. */
export async function serviceListCommand(options: ServiceListOptions, io: CliIo): Promise<void> {
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const services = await withSubscribers(client, await listServices(client, { includeRetired: !options.activeOnly }));
  if (options.json) {
    printJson(io, services);
    return;
  }
  if (services.length === 0 && io.isTTY) {
    printLine(io, "no services published yet: publish one with `dsmp service publish --name <name>`");
    return;
  }
  printTable(
    io,
    [
      { header: "id", cell: (s) => String(s.id), alignRight: true },
      { header: "name", cell: (s) => s.name },
      { header: "owner", cell: (s) => s.owner },
      { header: "kind", cell: (s) => s.kind },
      { header: "visibility", cell: (s) => s.visibility },
      { header: "price", cell: (s) => priceSummary(client, s.pricing) },
      { header: "subscribers", cell: (s) => String(s.subscribers), alignRight: true },
      { header: "status", cell: (s) => s.status },
    ],
    services,
  );
}

export interface ServiceIdOptions extends GlobalOptions {
  serviceId: string;
}

/** `dsmp service info <id>`: every field of one service. */
export async function serviceInfoCommand(options: ServiceIdOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const [record, subscribers] = await Promise.all([getService(client, { serviceId }), getSubscriberCount(client, { serviceId })]);
  const service: ListedService = { ...record, subscribers };
  if (options.json) {
    printJson(io, service);
    return;
  }
  const { pricing } = service;
  printFields(io, [
    ["id", String(service.id)],
    ["name", service.name],
    ["owner", service.owner],
    ["status", service.status === "retired" ? `retired at ${utcTime(service.retiredAt)}` : "active"],
    ["kind", service.kind],
    ["visibility", service.visibility],
    ["price per period", pricing.perPeriod === 0n ? "-" : `${tokenAmount(client, pricing.perPeriod)} per ${formatDuration(pricing.periodSeconds)}`],
    ["one-time price", pricing.oneTime === 0n ? "-" : `${tokenAmount(client, pricing.oneTime)} for ${formatDuration(pricing.oneTimeDuration)}`],
    ["per call", pricing.perCall === 0n ? "-" : tokenAmount(client, pricing.perCall)],
    ["replicas", `${service.minReplicas} to ${service.maxReplicas}`],
    ["min provider stake", tokenAmount(client, service.minProviderStake)],
    ["manifest hash", service.manifestHash],
    ["metadata", service.metadataURI === "" ? "-" : service.metadataURI],
    ["allow-list root", service.allowlistRoot === zeroHash ? "-" : service.allowlistRoot],
    ["published", utcTime(service.publishedAt)],
    ["subscribers", String(service.subscribers)],
  ]);
}

/** `dsmp service retire <id>`: retire a service for good. */
export async function serviceRetireCommand(options: ServiceIdOptions, io: CliIo): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const result = await retireService(client, { serviceId, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, serviceId });
    return;
  }
  printLine(io, `retired service ${serviceId} (tx ${result.hash})`);
}

export interface ServiceAccessOptions extends ServiceIdOptions {
  consumer: string;
}

/** `dsmp service grant <id> <address>`: allow a consumer to use a (private) service. */
export async function serviceGrantCommand(options: ServiceAccessOptions, io: CliIo): Promise<void> {
  await changeAccess(options, io, "grant");
}

/** `dsmp service revoke <id> <address>`: remove a consumer's explicit grant. */
export async function serviceRevokeCommand(options: ServiceAccessOptions, io: CliIo): Promise<void> {
  await changeAccess(options, io, "revoke");
}

async function changeAccess(options: ServiceAccessOptions, io: CliIo, change: "grant" | "revoke"): Promise<void> {
  const serviceId = parseId(options.serviceId, "<id>");
  const consumer: Address = parseAddress(options.consumer, "<address>");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const action = change === "grant" ? grantAccess : revokeAccess;
  const result = await action(client, { serviceId, consumer, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, serviceId, consumer });
    return;
  }
  const what = change === "grant" ? `granted ${consumer} access to` : `revoked the grant of ${consumer} to`;
  printLine(io, `${what} service ${serviceId} (tx ${result.hash})`);
}

const SERVICE_FLAG_OPTIONS: readonly OptionSpec[] = [
  { name: "name", type: "string", value: "<name>", description: "service name, 1 to 64 bytes, unique among your live services" },
  { name: "kind", type: "string", value: "http|task", description: "a long-running HTTP service or an on-demand task (default http)" },
  { name: "visibility", type: "string", value: "public|private", description: "private services admit allow-listed consumers only (default public)" },
  { name: "price-per-period", type: "string", value: "<amount>", description: "OPEN per period of a recurring subscription (needs --period)" },
  { name: "period", type: "string", value: "<duration>", description: "length of a period: 30d, 12h, 1w, 90m, 45s" },
  { name: "one-time-price", type: "string", value: "<amount>", description: "OPEN for one-time access (needs --one-time-duration)" },
  { name: "one-time-duration", type: "string", value: "<duration>", description: "access one-time payment buys, e.g. 7d" },
  { name: "per-call", type: "string", value: "<amount>", description: "OPEN per call, advertised for per-call metering" },
  { name: "min-replicas", type: "string", value: "<n>", description: "fewest replicas to run (default 1)" },
  { name: "max-replicas", type: "string", value: "<n>", description: "most replicas to run (default: min replicas)" },
  { name: "min-stake", type: "string", value: "<amount>", description: "OPEN a provider must have staked to serve it (default 0)" },
  { name: "manifest-hash", type: "string", value: "<hex32>", description: "content hash of the service manifest (default zero)" },
  { name: "metadata", type: "string", value: "<uri>", description: "metadata URI (description, docs, …)" },
];

function serviceFlags(input: CommandInput): ServiceFlags {
  return {
    name: input.string("name"),
    kind: input.string("kind"),
    visibility: input.string("visibility"),
    pricePerPeriod: input.string("price-per-period"),
    period: input.string("period"),
    oneTimePrice: input.string("one-time-price"),
    oneTimeDuration: input.string("one-time-duration"),
    perCall: input.string("per-call"),
    minReplicas: input.string("min-replicas"),
    maxReplicas: input.string("max-replicas"),
    minStake: input.string("min-stake"),
    manifestHash: input.string("manifest-hash"),
    metadata: input.string("metadata"),
  };
}

const idArgument = { name: "id", description: "service id (from `dsmp service ls`)" } as const;

export const serviceCommands: readonly CliCommand[] = [
  {
    path: ["service", "publish"],
    summary: "publish a service owned by the signing account",
    options: SERVICE_FLAG_OPTIONS.map((option) => (option.name === "name" ? { ...option, required: true } : option)),
    examples: [
      "dsmp service publish --name weather --price-per-period 5 --period 30d --max-replicas 3",
      "dsmp service publish --name internal-api --visibility private --one-time-price 1 --one-time-duration 7d",
    ],
    run: (input, io) => servicePublishCommand({ ...input.global, ...serviceFlags(input) }, io),
  },
  {
    path: ["service", "update"],
    summary: "change fields of a service you own (the others stay as they are)",
    positionals: [idArgument],
    options: SERVICE_FLAG_OPTIONS,
    examples: ["dsmp service update 3 --price-per-period 6"],
    run: (input, io) => serviceUpdateCommand({ ...input.global, ...serviceFlags(input), serviceId: input.argument("id") }, io),
  },
  {
    path: ["service", "ls"],
    summary: "list services: id, name, owner, kind, visibility, price, subscribers, status",
    options: [{ name: "active", type: "boolean", description: "leave out retired services" }],
    examples: ["dsmp service ls", "dsmp service ls --json | jq '.[] | select(.subscribers != \"0\")'"],
    run: (input, io) => serviceListCommand({ ...input.global, activeOnly: input.flag("active") }, io),
  },
  {
    path: ["service", "info"],
    summary: "show every field of a service",
    positionals: [idArgument],
    examples: ["dsmp service info 1"],
    run: (input, io) => serviceInfoCommand({ ...input.global, serviceId: input.argument("id") }, io),
  },
  {
    path: ["service", "retire"],
    summary: "retire a service you own, for good",
    positionals: [idArgument],
    examples: ["dsmp service retire 3"],
    run: (input, io) => serviceRetireCommand({ ...input.global, serviceId: input.argument("id") }, io),
  },
  {
    path: ["service", "grant"],
    summary: "allow a consumer to use a private service you own",
    positionals: [idArgument, { name: "address", description: "consumer account" }],
    examples: ["dsmp service grant 4 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"],
    run: (input, io) => serviceGrantCommand({ ...input.global, serviceId: input.argument("id"), consumer: input.argument("address") }, io),
  },
  {
    path: ["service", "revoke"],
    summary: "remove a consumer's explicit grant",
    positionals: [idArgument, { name: "address", description: "consumer account" }],
    examples: ["dsmp service revoke 4 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"],
    run: (input, io) => serviceRevokeCommand({ ...input.global, serviceId: input.argument("id"), consumer: input.argument("address") }, io),
  },
];
