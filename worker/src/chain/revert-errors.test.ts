/**
 * Revert decoding, table-driven over every custom error of every DSMP ABI: each one has a formatter or is
 * listed as fine in its generic form, decodes back to its name and arguments, and reads as a sentence.
 */
import { abis } from "@dsmp/contracts";
import {
  ContractFunctionRevertedError,
  encodeErrorResult,
  HttpRequestError,
  keccak256,
  parseEther,
  parseUnits,
  toHex,
  type AbiParameter,
  type Hex,
} from "viem";
import { describe, expect, it } from "vitest";
import { ChainRevertError, ChainUnreachableError } from "../errors.ts";
import {
  chainRevertError,
  decodeRevertData,
  DSMP_ERRORS_ABI,
  DSMP_ROLE_NAMES,
  GENERIC_MESSAGE_OK,
  genericRevertMessage,
  REVERT_FORMATTERS,
  toChainError,
  type ChainErrorContext,
} from "./revert-errors.ts";

const ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const STAKING = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const context: ChainErrorContext = { token: { symbol: "OPEN", decimals: 18 }, contractNames: new Map([[STAKING.toLowerCase(), "Staking"]]) };
/** 2026-12-01 10:00:00 UTC. */
const DEC_1_2026_10H = BigInt(Date.UTC(2026, 11, 1, 10, 0, 0) / 1000);

/** A plausible value for an ABI parameter, so every error can be encoded. */
function sample(parameter: AbiParameter, index: number): unknown {
  const type = parameter.type;
  if (type === "address") return index % 2 === 0 ? ALICE : BOB;
  if (type === "bool") return true;
  if (type === "string") return "weather";
  if (type === "bytes32") return parameter.name === "neededRole" ? keccak256(toHex("SLASHER_ROLE")) : toHex("unbondingDelay", { size: 32 });
  if (type === "bytes") return "0x1234";
  if (type === "uint8") return 2;
  if (/^u?int(8|16|32)$/.test(type)) return 7 + index;
  if (type === "uint64") return DEC_1_2026_10H + BigInt(index) * 3_600n; // timestamps and durations
  if (/^u?int\d*$/.test(type)) return parseEther(String(10 * (index + 1)));
  throw new Error(`no sample for ${type}`);
}

const everyAbiError = Object.entries(abis).flatMap(([contract, abi]) =>
  (abi as readonly { type: string; name?: string; inputs?: readonly AbiParameter[] }[])
    .filter((item) => item.type === "error")
    .map((item) => ({ contract, name: item.name!, inputs: item.inputs ?? [] })),
);

describe("every custom error of every ABI", () => {
  it("has a formatter or an explicit generic-ok listing (add one when a contract gains an error)", () => {
    const missing = everyAbiError
      .filter((e) => !(e.name in REVERT_FORMATTERS) && !GENERIC_MESSAGE_OK.has(e.name as never))
      .map((e) => `${e.contract}.${e.name}`);
    expect(missing).toEqual([]);
  });

  it("has no formatter for an error no ABI declares, and none listed twice", () => {
    const declared = new Set(everyAbiError.map((e) => e.name));
    expect(Object.keys(REVERT_FORMATTERS).filter((name) => !declared.has(name))).toEqual([]);
    expect([...GENERIC_MESSAGE_OK].filter((name) => !declared.has(name) || name in REVERT_FORMATTERS)).toEqual([]);
  });

  it.each(DSMP_ERRORS_ABI.map((item) => [item.name, item] as const))("%s decodes to its name, arguments and a sentence", (name, item) => {
    const args = item.inputs.map(sample);
    const data = encodeErrorResult({ abi: [item], errorName: name, args } as never);
    const reverted = new ContractFunctionRevertedError({ abi: [], data, functionName: "call" });
    const error = toChainError(reverted, context);
    expect(error).toBeInstanceOf(ChainRevertError);
    const decoded = error as ChainRevertError;
    expect(decoded.errorName).toBe(name);
    expect(decoded.args).toEqual(args);
    expect(decoded.code).toBe("CHAIN_REVERT");
    expect(decoded.shortMessage).not.toMatch(/undefined|NaN|\[object|\.$/);
    expect(decoded.details).toBe(`contract error: ${genericRevertMessage(name, args)}`);
    if (GENERIC_MESSAGE_OK.has(name)) expect(decoded.shortMessage).toBe(genericRevertMessage(name, args));
    else expect(decoded.shortMessage).not.toBe(genericRevertMessage(name, args));
  });
});

describe("messages a person reads", () => {
  const cases: [string, readonly unknown[], string][] = [
    [
      "XnodeRegistryInsufficientStake",
      [ALICE, parseEther("10"), parseEther("100")],
      "insufficient stake: have 10 OPEN, need 100 OPEN — stake more with `dsmp stake 90`",
    ],
    [
      "StakingUnbondingNotReleased",
      [ALICE, DEC_1_2026_10H, DEC_1_2026_10H - 86_400n * 6n - 3_600n * 5n - 30n],
      "unbonding stake is locked until 2026-12-01 10:00 UTC (6d 5h from now)",
    ],
    [
      "StakingInsufficientFreeStake",
      [ALICE, parseEther("2.5"), parseEther("50")],
      "insufficient free stake: have 2.5 OPEN, need 50 OPEN (the rest is locked as node bonds or already unbonding; see `dsmp stake status`)",
    ],
    ["SubscriptionsNotAllowed", [3n, BOB], `account ${BOB} is not on the allow-list of service 3`],
    [
      "SubscriptionsPriceAboveMax",
      [3n, parseEther("12"), parseEther("10")],
      "the price of service 3 is 12 OPEN, above the most you accepted (10 OPEN)",
    ],
    ["ERC20InsufficientBalance", [ALICE, 0n, parseEther("5")], `insufficient balance: account ${ALICE} has 0 OPEN, needs 5 OPEN`],
    [
      "ERC20InsufficientAllowance",
      [STAKING, 0n, parseEther("1")],
      `allowance too low: Staking (${STAKING}) may spend 0 OPEN, needs 1 OPEN`,
    ],
    ["AccessControlUnauthorizedAccount", [ALICE, keccak256(toHex("SLASHER_ROLE"))], `account ${ALICE} lacks role SLASHER_ROLE`],
    ["AccessControlUnauthorizedAccount", [ALICE, toHex(0n, { size: 32 })], `account ${ALICE} lacks role DEFAULT_ADMIN_ROLE`],
    ["XnodeRegistryInvalidStatus", [ALICE, 2], `not allowed while node ${ALICE} is jailed`],
    ["StakingInvalidParameter", [toHex("unbondingDelay", { size: 32 }), 5n], "value 5 is out of range for staking parameter unbondingDelay"],
    ["ServiceRegistryDuplicateName", [ALICE, "weather", 3n], `account ${ALICE} already has a live service named "weather" (service 3)`],
    ["LeaseEscrowInvalidDuration", [86_400n, 3_600n], "invalid lease terms: minimum 1d, maximum 1h (need 0 < min ≤ max ≤ 5 years)"],
    ["ReentrancyGuardReentrantCall", [], "ReentrancyGuardReentrantCall()"],
    ["StringTooLong", ["abc"], 'StringTooLong("abc")'],
    ["SomeFutureError", [ALICE, 5n], `SomeFutureError(${ALICE}, 5)`],
    ["Error", ["boom"], "reverted: boom"],
    ["Panic", [0x11n], "the contract panicked: arithmetic overflow or underflow"],
  ];
  it.each(cases)("%s(%s)", (errorName, args, message) => {
    expect(chainRevertError(errorName, args, context).shortMessage).toBe(message);
  });

  it("uses the token's own symbol and decimals", () => {
    const usdc = { token: { symbol: "USDC", decimals: 6 } };
    expect(chainRevertError("XnodeRegistryInsufficientStake", [ALICE, parseUnits("1.5", 6), parseUnits("2", 6)], usdc).shortMessage).toBe(
      "insufficient stake: have 1.5 USDC, need 2 USDC — stake more with `dsmp stake 0.5`",
    );
  });

  it("knows every role getter of the ABIs", () => {
    expect([...DSMP_ROLE_NAMES.values()].sort()).toEqual(
      expect.arrayContaining(["DEFAULT_ADMIN_ROLE", "JAILER_ROLE", "LOCKER_ROLE", "RESOURCE_REPORTER_ROLE", "SLASHER_ROLE"]),
    );
  });
});

describe("decoding what viem throws", () => {
  const insufficient = encodeErrorResult({
    abi: abis.XnodeRegistry,
    errorName: "XnodeRegistryInsufficientStake",
    args: [ALICE, parseEther("10"), parseEther("100")],
  });

  it("finds revert data deep in a cause chain (an RPC error's data)", () => {
    const rpcError = Object.assign(new Error("execution reverted"), { code: 3, data: insufficient });
    const error = toChainError(new Error("estimateGas failed", { cause: rpcError }), context) as ChainRevertError;
    expect(error.errorName).toBe("XnodeRegistryInsufficientStake");
  });

  it("decodes an error of another contract than the one called (ERC-20 through Staking)", () => {
    const data = encodeErrorResult({ abi: abis.OpenToken, errorName: "ERC20InsufficientAllowance", args: [STAKING, 0n, 1n] });
    const reverted = new ContractFunctionRevertedError({ abi: abis.Staking, data, functionName: "stake" });
    expect((toChainError(reverted, context) as ChainRevertError).errorName).toBe("ERC20InsufficientAllowance");
  });

  it("reports a revert without data and an unknown selector", () => {
    expect(decodeRevertData("0x").shortMessage).toBe("the transaction reverted without a reason");
    const unknown = decodeRevertData("0xdeadbeef" as Hex);
    expect(unknown.errorName).toBe("unknown");
    expect(unknown.shortMessage).toBe("the transaction reverted with an unknown error 0xdeadbeef");
  });

  it("turns a refused connection into ChainUnreachableError", () => {
    const refused = new HttpRequestError({
      url: "http://127.0.0.1:9",
      cause: Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) }),
    });
    const error = toChainError(refused, { rpcUrl: "http://127.0.0.1:9" });
    expect(error).toBeInstanceOf(ChainUnreachableError);
    expect((error as ChainUnreachableError).shortMessage).toBe(
      "cannot reach http://127.0.0.1:9: is the chain running? start one with `npm run devnet`",
    );
  });

  it("passes other errors through", () => {
    const other = new Error("something else");
    expect(toChainError(other, context)).toBe(other);
    const http500 = new HttpRequestError({ url: "http://x", status: 500 });
    expect(toChainError(http500, context)).toBe(http500);
  });
});
