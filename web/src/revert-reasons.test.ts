import { abis } from "@dsmp/contracts";
import { BaseError, ContractFunctionExecutionError, ContractFunctionRevertedError, encodeErrorResult, getAddress, parseEther, UserRejectedRequestError, type Abi } from "viem";
import { describe, expect, it } from "vitest";
import { decodeFailure, decodeRevertData, DSMP_ERRORS_ABI } from "./revert-reasons.ts";

const operator = "0x00000000000000000000000000000000000000aa";

function reverted(errorName: string, args: readonly unknown[]) {
  const data = encodeErrorResult({ abi: DSMP_ERRORS_ABI as Abi, errorName, args } as never);
  const cause = new ContractFunctionRevertedError({ abi: abis.Staking as Abi, data, functionName: "requestUnbond" });
  return new ContractFunctionExecutionError(cause, { abi: abis.Staking as Abi, functionName: "requestUnbond", args: [] });
}

describe("revert reasons", () => {
  it("knows the errors of every ABI once, including inherited ERC-20 errors", () => {
    const names = DSMP_ERRORS_ABI.map((e) => e.name);
    expect(names).toContain("StakingInsufficientFreeStake");
    expect(names).toContain("ERC20InsufficientBalance");
    expect(names).toContain("SubscriptionsNotAllowed");
    expect(new Set(names.map((n, i) => `${n}/${DSMP_ERRORS_ABI[i]!.inputs.length}`)).size).toBe(names.length);
  });

  it.each([
    ["StakingInsufficientFreeStake", [operator, parseEther("50"), parseEther("500")], "not enough free stake: have 50 OPEN, need 500 OPEN"],
    ["SubscriptionsNotAllowed", [3n, operator], "not allowed: service 3 is private and this account is not on its allow-list"],
    ["ERC20InsufficientBalance", [operator, parseEther("1"), parseEther("20")], "not enough OPEN: the account holds 1 OPEN, this needs 20 OPEN"],
    ["StakingUnbondingNotReleased", [operator, 1_000_000n, 999_000n], "the unbonding stake is released at 1970-01-12 13:46 UTC (in 16m 40s)"],
  ])("decodes %s into a sentence", (name, args, sentence) => {
    const failure = decodeFailure(reverted(name, args), 999_000);
    expect(failure).toEqual({ kind: "revert", errorName: name, message: sentence });
  });

  it("falls back to Name(args) for errors without a sentence, and to raw data in a cause chain", () => {
    expect(decodeFailure(reverted("XnodeRegistryStillJailed", [operator, 5n])).message).toBe(`XnodeRegistryStillJailed(${getAddress(operator)}, 5)`);
    const data = encodeErrorResult({ abi: DSMP_ERRORS_ABI as Abi, errorName: "StakingNothingToWithdraw", args: [operator] } as never);
    expect(decodeRevertData(data)?.errorName).toBe("StakingNothingToWithdraw");
    const wrapped = new BaseError("execution reverted", { cause: Object.assign(new Error("rpc"), { data }) });
    expect(decodeFailure(wrapped).message).toBe("nothing to withdraw: request an unbond and wait for the delay first");
    expect(decodeRevertData("0xdeadbeef")).toBeUndefined();
  });

  it("says when the user rejected, and passes other errors through", () => {
    expect(decodeFailure(new UserRejectedRequestError(new Error("no"))).kind).toBe("rejected");
    expect(decodeFailure(new Error("boom"))).toEqual({ kind: "other", message: "boom" });
  });
});
