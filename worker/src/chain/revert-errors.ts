/**
 * Contract reverts as sentences. A revert is decoded with the custom errors of every DSMP ABI (an ERC-20 error
 * bubbles up through Staking or Subscriptions, so one contract's ABI is not enough) into a
 * {@link ChainRevertError} whose `shortMessage` a person can act on, with amounts in token units and times
 * in UTC: `insufficient stake: have 10 OPEN, need 100 OPEN — stake more with \`dsmp stake 90\``.
 *
 * Every custom error of every ABI has a formatter in {@link REVERT_FORMATTERS} or is listed in
 * {@link GENERIC_MESSAGE_OK} (its generic `Name(arg1, arg2)` reads well enough); a test enforces it.
 */
import { abis } from "@dsmp/contracts";
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  HttpRequestError,
  hexToString,
  keccak256,
  TimeoutError,
  toHex,
  type AbiParameter,
  type ContractErrorArgs,
  type Hex,
} from "viem";
import { ChainRevertError, ChainUnreachableError, DsmpError, InterruptedError } from "../errors.ts";
import { enumName, LEASE_STATUSES, NODE_STATUSES, TASK_STATUSES } from "./contract-enums.ts";
import {
  formatDuration,
  formatTimeBetween,
  formatTokenAmount,
  formatTokenNumber,
  formatUtcTime,
  OPEN_TOKEN_UNITS,
  type TokenUnits,
} from "./display-units.ts";

// ---------------------------------------------------------------------------------------------------------
// The errors of every ABI

type AnyDsmpAbiItem = (typeof abis)[keyof typeof abis][number];
/** A custom error of some DSMP contract (or of the OpenZeppelin code it inherits). */
export type DsmpErrorAbiItem = Extract<AnyDsmpAbiItem, { type: "error" }>;
export type DsmpContractErrorName = DsmpErrorAbiItem["name"];
type ErrorArgs<N extends DsmpContractErrorName> = ContractErrorArgs<readonly DsmpErrorAbiItem[], N>;

function errorSignature(item: { name: string; inputs: readonly AbiParameter[] }): string {
  return `${item.name}(${item.inputs.map((input) => input.type).join(",")})`;
}

/** Every custom error of every DSMP ABI, once each (inherited errors such as AccessControl's appear in several). */
export const DSMP_ERRORS_ABI: readonly DsmpErrorAbiItem[] = (() => {
  const bySignature = new Map<string, DsmpErrorAbiItem>();
  for (const abi of Object.values(abis)) {
    for (const item of abi as readonly AnyDsmpAbiItem[]) {
      if (item.type === "error" && !bySignature.has(errorSignature(item))) bySignature.set(errorSignature(item), item);
    }
  }
  return [...bySignature.values()];
})();

/** Role names by role id, from every `*_ROLE()` getter of the ABIs (DEFAULT_ADMIN_ROLE is zero). */
export const DSMP_ROLE_NAMES: ReadonlyMap<Hex, string> = (() => {
  const names = new Map<Hex, string>([[toHex(0n, { size: 32 }), "DEFAULT_ADMIN_ROLE"]]);
  for (const abi of Object.values(abis)) {
    for (const item of abi as readonly AnyDsmpAbiItem[]) {
      if (item.type === "function" && item.name.endsWith("_ROLE") && item.name !== "DEFAULT_ADMIN_ROLE" && item.inputs.length === 0) {
        names.set(keccak256(toHex(item.name)), item.name);
      }
    }
  }
  return names;
})();

// ---------------------------------------------------------------------------------------------------------
// Formatting

/** What a message needs beyond the error's arguments. */
export interface ChainErrorContext {
  /** Named in "cannot reach …". */
  rpcUrl?: string | undefined;
  /** @default {@link OPEN_TOKEN_UNITS} */
  token?: TokenUnits | undefined;
  /** Contract names by lowercase address, so `0xe7f1…` reads `Staking (0xe7f1…)`. */
  contractNames?: ReadonlyMap<string, string> | undefined;
}

interface Formatting {
  amount(value: bigint): string;
  number(value: bigint): string;
  who(address: string): string;
}

function formatting(context: ChainErrorContext): Formatting {
  const units = context.token ?? OPEN_TOKEN_UNITS;
  return {
    amount: (value) => formatTokenAmount(value, units),
    number: (value) => formatTokenNumber(value, units),
    who: (address) => {
      const name = context.contractNames?.get(address.toLowerCase());
      return name === undefined ? address : `${name} (${address})`;
    },
  };
}

type Formatter<N extends DsmpContractErrorName> = (args: ErrorArgs<N>, f: Formatting) => string;
type FormatterTable = { [N in DsmpContractErrorName]?: Formatter<N> };

const at = (seconds: bigint | number) => formatUtcTime(seconds);
/** A right-padded bytes32 string, or the hex when it is not printable text. */
function bytes32Text(value: Hex): string {
  const text = hexToString(value).replace(/\0+$/, "");
  return /^[\x20-\x7e]+$/.test(text) ? text : value;
}

/** One sentence per custom error; no trailing period (they are `shortMessage`s). */
export const REVERT_FORMATTERS: FormatterTable = {
  // Staking
  StakingZeroAmount: () => "the amount must be greater than zero",
  StakingInsufficientFreeStake: ([, free, needed], f) =>
    `insufficient free stake: have ${f.amount(free)}, need ${f.amount(needed)} (the rest is locked as node bonds or already unbonding; see \`dsmp stake status\`)`,
  StakingUnbondingNotReleased: ([, releaseAt, now]) =>
    `unbonding stake is locked until ${at(releaseAt)}${releaseAt > now ? ` (${formatTimeBetween(now, releaseAt)} from now)` : ""}`,
  StakingNothingToWithdraw: ([operator]) =>
    `nothing to withdraw: account ${operator} has no unbonding stake (start with \`dsmp unbond <amount>\`)`,
  StakingUnlockExceedsLock: ([locker, operator, lockedByLocker, amount], f) =>
    `cannot unlock ${f.amount(amount)} of ${operator}: ${f.who(locker)} holds only ${f.amount(lockedByLocker)}`,
  StakingInvalidParameter: ([name, value]) => `value ${value} is out of range for staking parameter ${bytes32Text(name)}`,
  StakingInvalidReason: ([reason]) => `unknown slash reason code ${reason} (valid codes are 1 to 5)`,
  StakingZeroAddress: () => "a required address (token, admin, treasury or operator) is the zero address",

  // XnodeRegistry
  XnodeRegistryInvalidPublicKey: ([length]) => `a node public key has 64 bytes (X || Y), got ${length}`,
  XnodeRegistryNodeAlreadyRegistered: ([node]) => `node ${node} is already registered`,
  XnodeRegistrySignatureExpired: ([deadline, now]) =>
    `the node's proof of possession expired at ${at(deadline)} (chain time ${at(now)}); sign a new one`,
  XnodeRegistryInvalidSignature: ([node, recovered]) =>
    `the proof of possession was not signed by node ${node} (it recovers to ${recovered})`,
  XnodeRegistryInvalidSlots: () => "a node must offer at least one capacity slot",
  XnodeRegistryInvalidResources: () => "cpu millicores and memory must be greater than zero",
  XnodeRegistryInsufficientStake: ([, have, need], f) =>
    `insufficient stake: have ${f.amount(have)}, need ${f.amount(need)} — stake more with \`dsmp stake ${f.number(need - have)}\``,
  XnodeRegistryUnknownNode: ([node]) => `node ${node} is not registered`,
  XnodeRegistryNotOperator: ([node, caller]) => `account ${caller} is not the operator of node ${node}`,
  XnodeRegistryInvalidStatus: ([node, status]) => `not allowed while node ${node} is ${enumName(NODE_STATUSES, status)}`,
  XnodeRegistryStillJailed: ([node, until]) => `node ${node} is jailed until ${at(until)}`,
  XnodeRegistryInvalidJailTerm: ([until]) => `a jail term must end in the future, got ${at(until)}`,
  XnodeRegistryUndercollateralized: ([operator, bonded, locked], f) =>
    `operator ${operator} is undercollateralized: bonded ${f.amount(bonded)} < locked ${f.amount(locked)} — stake more with \`dsmp stake ${f.number(locked - bonded)}\``,
  XnodeRegistryZeroAddress: () => "a required address (staking or admin) is the zero address",

  // ServiceRegistry
  ServiceRegistryUnknownService: ([id]) => `service ${id} does not exist`,
  ServiceRegistryNotOwner: ([id, caller]) => `account ${caller} is not the owner of service ${id}`,
  ServiceRegistryServiceRetired: ([id]) => `service ${id} is retired and can no longer be changed`,
  ServiceRegistryInvalidNameLength: ([length, max]) => `a service name has 1 to ${max} bytes, got ${length}`,
  ServiceRegistryDuplicateName: ([owner, name, existing]) =>
    `account ${owner} already has a live service named ${JSON.stringify(name)} (service ${existing})`,
  ServiceRegistryInvalidReplicas: ([min, max]) => `replica bounds must satisfy 1 ≤ min ≤ max, got min ${min} and max ${max}`,
  ServiceRegistryInvalidPeriod: ([perPeriod], f) =>
    `a per-period price (${f.amount(perPeriod)}) needs a period longer than zero (--period, e.g. 30d)`,
  ServiceRegistryInvalidOneTime: ([oneTime], f) =>
    `a one-time price (${f.amount(oneTime)}) needs an access duration longer than zero (--one-time-duration, e.g. 7d)`,
  ServiceRegistryZeroAddress: () => "the new owner is the zero address",

  // Subscriptions
  SubscriptionsZeroAddress: () => "a required address (token, registry, admin or treasury) is the zero address",
  SubscriptionsFeeTooHigh: ([fee, max]) => `a protocol fee of ${fee} bps is above the maximum of ${max} bps`,
  SubscriptionsZeroPeriods: ([id]) => `subscribe to service ${id} for at least one period`,
  SubscriptionsServiceRetired: ([id]) => `service ${id} is retired and takes no new payments`,
  SubscriptionsNotRecurring: ([id]) =>
    `service ${id} has no per-period price; buy one-time access with \`dsmp subscribe ${id} --once\``,
  SubscriptionsNotOneTime: ([id]) =>
    `service ${id} has no one-time price; subscribe by period with \`dsmp subscribe ${id} --periods 1\``,
  SubscriptionsPriceAboveMax: ([id, price, max], f) =>
    `the price of service ${id} is ${f.amount(price)}, above the most you accepted (${f.amount(max)})`,
  SubscriptionsNotAllowed: ([id, consumer]) => `account ${consumer} is not on the allow-list of service ${id}`,
  SubscriptionsNothingToCancel: ([id, consumer]) => `account ${consumer} has no recurring subscription to service ${id} to cancel`,

  // LeaseEscrow
  LeaseEscrowZeroAddress: () => "a required address (token, registry, admin or treasury) is the zero address",
  LeaseEscrowInvalidFee: ([fee, max]) => `a protocol fee of ${fee} bps is above the maximum of ${max} bps`,
  LeaseEscrowInvalidPrice: ([price], f) => `invalid lease price ${f.amount(price)} per second (zero, or too large for the maximum term)`,
  LeaseEscrowInvalidDuration: ([min, max]) =>
    `invalid lease terms: minimum ${formatDuration(min)}, maximum ${formatDuration(max)} (need 0 < min ≤ max ≤ 5 years)`,
  LeaseEscrowInvalidNoticePeriod: ([notice, min]) =>
    `the notice period (${formatDuration(notice)}) must not exceed the minimum term (${formatDuration(min)})`,
  LeaseEscrowInvalidMaxLeases: () => "an offer must allow at least one lease at a time",
  LeaseEscrowInvalidResources: ([node]) => `the offered resources are zero or exceed what node ${node} advertises`,
  LeaseEscrowNotNodeOperator: ([node, caller]) => `account ${caller} is not the operator of node ${node}`,
  LeaseEscrowNodeNotActive: ([node]) => `node ${node} is not active (unknown, jailed or retired)`,
  LeaseEscrowUnknownOffer: ([id]) => `lease offer ${id} does not exist`,
  LeaseEscrowOfferInactive: ([id]) => `lease offer ${id} is switched off`,
  LeaseEscrowOfferStale: ([id, offerOperator, currentOperator]) =>
    `lease offer ${id} is stale: posted by ${offerOperator}, but the node is now operated by ${currentOperator}`,
  LeaseEscrowPriceAboveMax: ([price, max], f) =>
    `the offer's price is ${f.amount(price)} per second, above the most you accepted (${f.amount(max)})`,
  LeaseEscrowDepositTooLow: ([deposit, min], f) =>
    `a deposit of ${f.amount(deposit)} does not pay for the minimum term (${f.amount(min)})`,
  LeaseEscrowDepositTooHigh: ([deposit, max], f) =>
    `a deposit of ${f.amount(deposit)} pays for more than the maximum term (at most ${f.amount(max)})`,
  LeaseEscrowOfferFull: ([id, max]) => `lease offer ${id} already has its maximum of ${max} running leases`,
  LeaseEscrowNodeFull: ([node, cap]) => `node ${node} already has its maximum of ${cap} running leases`,
  LeaseEscrowUnknownLease: ([id]) => `lease ${id} does not exist`,
  LeaseEscrowNotLessee: ([id, caller]) => `account ${caller} is not the lessee of lease ${id}`,
  LeaseEscrowInvalidStatus: ([id, status]) => `not allowed while lease ${id} is ${enumName(LEASE_STATUSES, status)}`,
  LeaseEscrowLeaseExpired: ([id, end]) => `lease ${id} ran out at ${at(end)}; settle it and open a new one`,
  LeaseEscrowZeroAmount: () => "the amount must be greater than zero",
  LeaseEscrowFailureInFuture: ([failedAt, now]) => `a failure time (${at(failedAt)}) cannot be after the chain time (${at(now)})`,

  // TaskManager
  TaskManagerZeroAddress: () => "a required address (token, registry, staking, admin or treasury) is the zero address",
  TaskManagerInvalidParameter: ([name, value]) => `value ${value} is out of range for task parameter ${bytes32Text(name)}`,
  TaskManagerInvalidSpec: ([field, value]) => `invalid task: ${bytes32Text(field)} = ${value} is out of range (see \`dsmp task submit --help\`)`,
  TaskManagerUnknownTask: ([id]) => `task ${id} does not exist`,
  TaskManagerInvalidStatus: ([id, status]) => `not allowed while task ${id} is ${enumName(TASK_STATUSES, status)}`,
  TaskManagerDrawNotReady: ([id, drawBlock]) => `task ${id} cannot be assigned before block ${drawBlock + 1n} is mined (its draw is seeded by block ${drawBlock})`,
  TaskManagerNotEnoughEligibleNodes: ([id, found, needed]) =>
    `task ${id} needs ${needed} eligible Xnodes with free slots and enough resources, found ${found}; try later or ask for less`,
  TaskManagerDeadlinePassed: ([id, deadline]) => `the deadline of task ${id} passed at ${at(deadline)}`,
  TaskManagerTooEarly: ([id, notBefore]) => `too early for task ${id}: possible after ${at(notBefore)}`,
  TaskManagerQuorumNotMet: ([id, signers, quorum]) => `the report for task ${id} has ${signers} valid signers, the quorum is ${quorum}`,
  TaskManagerInvalidParticipants: ([id, participants]) =>
    `the participants bitmap 0x${participants.toString(16)} of task ${id} names a slot that is out of range or vacant`,
  TaskManagerSignatureCountMismatch: ([bits, signatures]) => `the participants bitmap has ${bits} members but ${signatures} signatures were given`,
  TaskManagerInvalidSignature: ([id, slot, expected, recovered]) =>
    `the signature for slot ${slot} of task ${id} recovers to ${recovered}, not to the seated node ${expected}`,
  TaskManagerNotCommitteeMember: ([id, node]) => `node ${node} is not in the committee of task ${id}`,
  TaskManagerNoConflict: ([id]) => `the two signed statements for task ${id} do not conflict (same value, or different signers): no equivocation`,
  TaskManagerAlreadySlashed: ([id, node, reason]) => `node ${node} was already penalised for task ${id} (reason code ${reason})`,
  TaskManagerUnknownNode: ([node]) => `${node} is not a registered Xnode`,
  TaskManagerNotSubmitter: ([id, caller]) => `account ${caller} did not submit task ${id}`,
  TaskManagerNothingToReallocate: ([id]) => `every seated worker of task ${id} anchored a commit: nobody to replace`,
  TaskManagerRoundsExhausted: ([id, maxRounds]) => `task ${id} used all ${maxRounds} draw rounds; its submitter can \`claim\` a refund`,
  TaskManagerNothingToWithdraw: ([account]) => `account ${account} has nothing to withdraw from TaskManager`,
  TaskManagerInvalidSlot: ([id, slot]) => `slot ${slot} of task ${id} is out of range or vacant`,

  // UsageEscrow
  UsageEscrowZeroAddress: () => "a required address (token, registry, node registry, admin, treasury or consumer) is the zero address",
  UsageEscrowFeeTooHigh: ([fee, max]) => `a protocol fee of ${fee} bps is above the maximum of ${max} bps`,
  UsageEscrowNotPerCall: ([id]) => `service ${id} has no per-call price: pay for it with \`dsmp subscribe ${id}\``,
  UsageEscrowServiceRetired: ([id]) => `service ${id} is retired and takes no new deposits`,
  UsageEscrowPriceAboveMax: ([id, price, max], f) =>
    `the per-call price of service ${id} is ${f.amount(price)}, above the most you accepted (${f.amount(max)})`,
  UsageEscrowBadWithdrawalAmount: ([id, requested, balance], f) =>
    `cannot withdraw ${f.amount(requested)} from the escrow for service ${id}: it holds ${f.amount(balance)} (ask for more than zero and at most that)`,
  UsageEscrowNoPendingWithdrawal: ([id, consumer]) =>
    `account ${consumer} has no pending withdrawal for service ${id}: request one first`,
  UsageEscrowWithdrawalLocked: ([id, , withdrawableAt]) =>
    `the withdrawal from the escrow for service ${id} is possible from ${at(withdrawableAt)}: run \`dsmp escrow withdraw ${id}\` again then`,
  UsageEscrowNotServingNode: ([id, node]) =>
    `${node} may not claim for service ${id}: it is not an active Xnode, or its operator's bonded stake is below its locked stake or the service's minimum provider stake`,
  UsageEscrowBadBatchSize: ([count, max]) => `a claim carries 1 to ${max} calls, got ${count}`,
  UsageEscrowBalanceOverflow: ([id, consumer]) => `the escrow of ${consumer} for service ${id} would exceed 2^128 − 1`,

  // OpenToken and the OpenZeppelin code the contracts inherit
  OpenTokenFaucetDisabled: ([chainId]) => `the OPEN faucet only works on development chains (31337, 1337); this is chain ${chainId}`,
  OpenTokenFaucetAmountTooLarge: ([requested, max], f) =>
    `the faucet hands out at most ${f.amount(max)} per draw, asked for ${f.amount(requested)}`,
  OpenTokenFaucetCooldown: ([account, nextAt]) => `account ${account} may draw from the faucet again at ${at(nextAt)}`,
  ERC20InsufficientBalance: ([sender, balance, needed], f) =>
    `insufficient balance: account ${sender} has ${f.amount(balance)}, needs ${f.amount(needed)}`,
  ERC20InsufficientAllowance: ([spender, allowance, needed], f) =>
    `allowance too low: ${f.who(spender)} may spend ${f.amount(allowance)}, needs ${f.amount(needed)}`,
  ERC20InvalidApprover: ([approver]) => `invalid token approver ${approver}`,
  ERC20InvalidReceiver: ([receiver]) => `invalid token receiver ${receiver}`,
  ERC20InvalidSender: ([sender]) => `invalid token sender ${sender}`,
  ERC20InvalidSpender: ([spender]) => `invalid token spender ${spender}`,
  ERC2612ExpiredSignature: ([deadline]) => `the permit expired at ${at(deadline)}`,
  ERC2612InvalidSigner: ([signer, owner]) => `the permit was signed by ${signer}, not by the token owner ${owner}`,
  AccessControlUnauthorizedAccount: ([account, role]) =>
    `account ${account} lacks role ${DSMP_ROLE_NAMES.get(role.toLowerCase() as Hex) ?? role}`,
  AccessControlBadConfirmation: () => "an account can only renounce its own roles",
  SafeERC20FailedOperation: ([token], f) => `a transfer of token ${f.who(token)} failed`,
  InvalidAccountNonce: ([account, nonce]) => `wrong nonce for ${account}: the current nonce is ${nonce}`,
  SafeCastOverflowedUintDowncast: ([bits, value]) => `value ${value} does not fit in uint${bits}`,
};

/** Errors whose generic `Name(arg1, arg2)` form is clear enough (internal guards a user rarely meets). */
export const GENERIC_MESSAGE_OK: ReadonlySet<DsmpContractErrorName> = new Set<DsmpContractErrorName>([
  "ReentrancyGuardReentrantCall",
  "ECDSAInvalidSignature",
  "ECDSAInvalidSignatureLength",
  "ECDSAInvalidSignatureS",
  "InvalidShortString",
  "StringTooLong",
]);

/** Solidity's `Panic(uint256)` codes. */
const PANIC_REASONS: Readonly<Record<number, string>> = {
  0x01: "an assertion failed",
  0x11: "arithmetic overflow or underflow",
  0x12: "division by zero",
  0x21: "invalid enum value",
  0x22: "corrupt storage byte array",
  0x31: "pop on an empty array",
  0x32: "array index out of bounds",
  0x41: "out of memory",
  0x51: "call to an uninitialised function",
};

function formatArgument(value: unknown): string {
  if (typeof value === "string") return value.startsWith("0x") ? value : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(formatArgument).join(", ")}]`;
  return String(value);
}

/**
 * The generic form of a custom error: `Name(arg1, arg2)`.
 * @example genericRevertMessage("StakingZeroAmount", []) // "StakingZeroAmount()"
 */
export function genericRevertMessage(errorName: string, args: readonly unknown[]): string {
  return `${errorName}(${args.map(formatArgument).join(", ")})`;
}

/**
 * The {@link ChainRevertError} for a decoded revert: the formatter's sentence when there is one, the generic
 * form otherwise (also when a formatter throws on arguments it did not expect).
 * @example
 * chainRevertError("StakingNothingToWithdraw", ["0x7099…79C8"]).shortMessage
 * // "nothing to withdraw: account 0x7099…79C8 has no unbonding stake (start with `dsmp unbond <amount>`)"
 */
export function chainRevertError(
  errorName: string,
  args: readonly unknown[],
  context: ChainErrorContext = {},
  options: { cause?: unknown } = {},
): ChainRevertError {
  const generic = genericRevertMessage(errorName, args);
  let message = generic;
  if (errorName === "Error" && typeof args[0] === "string") message = `reverted: ${args[0]}`;
  else if (errorName === "Panic" && typeof args[0] === "bigint") {
    message = `the contract panicked: ${PANIC_REASONS[Number(args[0])] ?? `code 0x${args[0].toString(16)}`}`;
  } else {
    const formatter = REVERT_FORMATTERS[errorName as DsmpContractErrorName] as
      | ((args: readonly unknown[], f: Formatting) => string)
      | undefined;
    if (formatter !== undefined) {
      try {
        message = formatter(args, formatting(context));
      } catch {
        message = generic;
      }
    }
  }
  return new ChainRevertError(errorName, args, message, { details: `contract error: ${generic}`, cause: options.cause });
}

/**
 * Decode raw revert data (selector + ABI-encoded arguments) with {@link DSMP_ERRORS_ABI} and Solidity's
 * built-ins; an unknown selector gives `errorName` `"unknown"` and the raw data in the message.
 */
export function decodeRevertData(data: Hex, context: ChainErrorContext = {}, options: { cause?: unknown } = {}): ChainRevertError {
  if (data === "0x") {
    return new ChainRevertError("unknown", [], "the transaction reverted without a reason", { cause: options.cause });
  }
  try {
    const decoded = decodeErrorResult({ abi: DSMP_ERRORS_ABI, data });
    return chainRevertError(decoded.errorName, decoded.args ?? [], context, options);
  } catch {
    return new ChainRevertError("unknown", [data], `the transaction reverted with an unknown error ${data.slice(0, 10)}`, {
      details: `revert data: ${data}`,
      cause: options.cause,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// From whatever viem threw

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < 20; ) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function revertDataOf(error: unknown): Hex | undefined {
  for (const link of causes(error)) {
    const data = (link as { data?: unknown }).data;
    if (typeof data === "string" && /^0x([0-9a-fA-F]{8})([0-9a-fA-F]{64})*$/.test(data)) return data as Hex;
    if (typeof data === "object" && data !== null && typeof (data as { data?: unknown }).data === "string") {
      const inner = (data as { data: string }).data;
      if (/^0x([0-9a-fA-F]{8})([0-9a-fA-F]{64})*$/.test(inner)) return inner as Hex;
    }
  }
  return undefined;
}

/** Whether `error` says the RPC endpoint did not answer at all (as opposed to answering with an error). */
export function isUnreachableError(error: unknown): boolean {
  return causes(error).some((link) => {
    if (link instanceof HttpRequestError) return link.status === undefined && !(link.cause instanceof SyntaxError);
    if (link instanceof TimeoutError) return true;
    const code = (link as { code?: unknown }).code;
    return typeof code === "string" && UNREACHABLE_CODES.has(code);
  });
}

/**
 * Turn what a viem call threw into a typed error: a revert becomes a {@link ChainRevertError} (decoded with every
 * DSMP ABI), a silent endpoint a {@link ChainUnreachableError}; a {@link DsmpError} and anything else pass through.
 * @example
 * try { await client.public.readContract(…) } catch (error) { throw toChainError(error, { rpcUrl }) }
 */
export function toChainError(error: unknown, context: ChainErrorContext = {}): unknown {
  if (error instanceof DsmpError) return error;
  const links = causes(error);
  const interrupted = links.find((link): link is InterruptedError => link instanceof InterruptedError);
  if (interrupted !== undefined) return interrupted;
  if (links.some((link) => (link as { name?: unknown }).name === "AbortError")) {
    return new InterruptedError("interrupted while waiting for the chain", { cause: error });
  }
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (reverted !== null) {
      if (reverted.raw !== undefined) return decodeRevertData(reverted.raw, context, { cause: error });
      if (reverted.data !== undefined) return chainRevertError(reverted.data.errorName, reverted.data.args ?? [], context, { cause: error });
      if (reverted.reason !== undefined) return chainRevertError("Error", [reverted.reason], context, { cause: error });
      const data = revertDataOf(error);
      return decodeRevertData(data ?? "0x", context, { cause: error });
    }
  }
  const data = revertDataOf(error);
  if (data !== undefined) return decodeRevertData(data, context, { cause: error });
  if (isUnreachableError(error)) {
    const url = context.rpcUrl ?? causes(error).find((link): link is HttpRequestError => link instanceof HttpRequestError)?.url ?? "the RPC endpoint";
    return new ChainUnreachableError(url, { cause: error, details: error instanceof Error ? error.message : String(error) });
  }
  return error;
}
