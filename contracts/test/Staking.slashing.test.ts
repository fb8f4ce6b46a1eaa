import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { encodeErrorResult, encodeFunctionData, type Hex, keccak256, toHex, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import { namedWallets, ONE_OPEN, OPERATOR_STAKE, SlashReason, stakedOperatorFixture } from "./staking.fixture.js";

const connection = await network.create();
const { viem, networkHelpers } = connection;
const { time, loadFixture } = networkHelpers;

const DAY = 86_400n;
const EVIDENCE = keccak256(toHex("two signed results for round 7"));

describe("Staking slashing", () => {
  describe("slash", () => {
    type Fx = Awaited<ReturnType<typeof stakedOperatorFixture>>;
    const slashAs = (fx: Fx) => ({ account: fx.accounts.slasher.account });
    /** eth_call needs only the sender's address. */
    const callAs = (fx: Fx) => ({ account: fx.accounts.slasher.account.address });

    it("is restricted to SLASHER_ROLE", async () => {
      const { staking, operator, accounts, roles } = await loadFixture(stakedOperatorFixture);
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.slash([operator.account.address, 1n, SlashReason.NO_SHOW, EVIDENCE, zeroAddress], {
          account: accounts.outsider.account,
        }),
        staking,
        "AccessControlUnauthorizedAccount",
        [accounts.outsider.account.address, roles.slasher],
      );
    });

    it("rejects unknown reason codes and a zero amount", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const me = fx.operator.account.address;
      for (const code of [0, 6, 255]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          fx.staking.write.slash([me, 1n, code, EVIDENCE, zeroAddress], slashAs(fx)),
          fx.staking,
          "StakingInvalidReason",
          [code],
        );
      }
      await viem.assertions.revertWithCustomError(
        fx.staking.write.slash([me, 0n, SlashReason.OTHER, EVIDENCE, zeroAddress], slashAs(fx)),
        fx.staking,
        "StakingZeroAmount",
      );
    });

    it("caps every non-equivocation slash at maxSlashBps of bonded + unbonding and splits it", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const { staking, token, operator, accounts } = fx;
      const me = operator.account.address;
      const beneficiary = accounts.outsider.account.address;
      await staking.write.requestUnbond([2_000n * ONE_OPEN], { account: operator.account });
      let total = OPERATOR_STAKE;
      for (const code of [
        SlashReason.WRONG_RESULT,
        SlashReason.NO_SHOW,
        SlashReason.RESOURCE_PROOF_FAILED,
        SlashReason.OTHER,
      ]) {
        const cap = (total * 1_000n) / 10_000n;
        const args = [me, total, code, EVIDENCE, beneficiary] as const;
        expect((await staking.simulate.slash(args, callAs(fx))).result).toBe(cap);
        const before = await token.read.balanceOf([accounts.treasury.account.address]);
        await viem.assertions.emitWithArgs(staking.write.slash(args, slashAs(fx)), staking, "Slashed", [
          me,
          cap,
          code,
          EVIDENCE,
          beneficiary,
          cap / 2n,
          cap - cap / 2n,
        ]);
        expect(await token.read.balanceOf([accounts.treasury.account.address])).toBe(before + cap - cap / 2n);
        total -= cap;
      }
      const info = await staking.read.stakeOf([me]);
      expect(info.bonded + info.unbonding).toBe(total);
      expect(await token.read.balanceOf([staking.address])).toBe(total);
    });

    it("does not cap equivocation and empties bonded then unbonding", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const me = fx.operator.account.address;
      await fx.staking.write.requestUnbond([3_000n], { account: fx.operator.account });
      await viem.assertions.emitWithArgs(
        fx.staking.write.slash([me, OPERATOR_STAKE * 2n, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress], slashAs(fx)),
        fx.staking,
        "Slashed",
        [me, OPERATOR_STAKE, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress, 0n, OPERATOR_STAKE],
      );
      expect(await fx.staking.read.stakeOf([me])).toEqual({
        bonded: 0n,
        locked: 0n,
        unbonding: 0n,
        unbondingReleaseAt: 0n,
      });
      expect(await fx.token.read.balanceOf([fx.accounts.treasury.account.address])).toBe(OPERATOR_STAKE);
    });

    it("keeps unbonding stake slashable: takes bonded first, then unbonding, release time unchanged", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const me = fx.operator.account.address;
      await fx.staking.write.requestUnbond([OPERATOR_STAKE - 300n], { account: fx.operator.account });
      const { unbondingReleaseAt } = await fx.staking.read.stakeOf([me]);
      await fx.staking.write.slash([me, 1_000n, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress], slashAs(fx));
      expect(await fx.staking.read.stakeOf([me])).toEqual({
        bonded: 0n,
        locked: 0n,
        unbonding: OPERATOR_STAKE - 1_000n,
        unbondingReleaseAt,
      });
      await time.increaseTo(unbondingReleaseAt);
      await viem.assertions.emitWithArgs(
        fx.staking.write.withdraw({ account: fx.operator.account }),
        fx.staking,
        "Withdrawn",
        [me, OPERATOR_STAKE - 1_000n],
      );
    });

    it("sends rounding dust of the beneficiary share to the treasury", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const me = fx.operator.account.address;
      const beneficiary = fx.accounts.outsider.account.address;
      await fx.staking.write.setSlashParameters([1_000, 3_333]);
      await viem.assertions.emitWithArgs(
        fx.staking.write.slash([me, 1_001n, SlashReason.EQUIVOCATION, EVIDENCE, beneficiary], slashAs(fx)),
        fx.staking,
        "Slashed",
        [me, 1_001n, SlashReason.EQUIVOCATION, EVIDENCE, beneficiary, 333n, 668n],
      );
      expect(await fx.token.read.balanceOf([beneficiary])).toBe(333n);
      expect(await fx.token.read.balanceOf([fx.accounts.treasury.account.address])).toBe(668n);
    });

    it("leaves locked untouched, so free stake drops to zero while lockers can still unlock", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const me = fx.operator.account.address;
      const locker = fx.accounts.locker.account;
      const REF = toHex("task-9", { size: 32 });
      await fx.staking.write.lock([me, OPERATOR_STAKE - 100n, REF], { account: locker });
      await fx.staking.write.slash([me, 1_000n, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress], slashAs(fx));
      const info = await fx.staking.read.stakeOf([me]);
      expect(info).toMatchObject({ bonded: OPERATOR_STAKE - 1_000n, locked: OPERATOR_STAKE - 100n });
      expect(await fx.staking.read.freeStakeOf([me])).toBe(0n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.staking.write.lock([me, 1n, REF], { account: locker }),
        fx.staking,
        "StakingInsufficientFreeStake",
        [me, 0n, 1n],
      );
      await fx.staking.write.unlock([me, OPERATOR_STAKE - 100n, REF], { account: locker });
      expect(await fx.staking.read.freeStakeOf([me])).toBe(OPERATOR_STAKE - 1_000n);
    });

    it("returns 0 and changes nothing for an operator without stake", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const nobody = fx.accounts.outsider.account.address;
      const args = [nobody, 5n, SlashReason.OTHER, EVIDENCE, zeroAddress] as const;
      expect((await fx.staking.simulate.slash(args, callAs(fx))).result).toBe(0n);
      const hash = await fx.staking.write.slash(args, slashAs(fx));
      const receipt = await fx.publicClient.getTransactionReceipt({ hash });
      expect(receipt.logs).toHaveLength(0);
    });
  });

  describe("reentrancy", () => {
    /** Staking over a token that calls back into Staking during its transfers. */
    async function reentrantFixture(conn: NetworkConnection) {
      const cv = conn.viem;
      const { deployer: admin, treasury, operators } = await namedWallets(conn);
      const [operator] = operators;
      const token = await cv.deployContract("ReentrantERC20");
      const staking = await cv.deployContract("Staking", [
        token.address,
        admin.account.address,
        treasury.account.address,
      ]);
      await token.write.mint([operator.account.address, 1_000n]);
      await token.write.approve([staking.address, 1_000n], { account: operator.account });
      await staking.write.stake([600n], { account: operator.account });
      return { token, staking, operator, admin };
    }
    const reentrantCall = encodeErrorResult({
      abi: [{ type: "error", name: "ReentrancyGuardReentrantCall", inputs: [] }],
      errorName: "ReentrancyGuardReentrantCall",
    });
    const expectBlocked = async (token: {
      read: { lastCallOk: () => Promise<boolean>; lastReturn: () => Promise<Hex>; attempts: () => Promise<bigint> };
    }) => {
      expect(await token.read.attempts()).toBe(1n);
      expect(await token.read.lastCallOk()).toBe(false);
      expect(await token.read.lastReturn()).toBe(reentrantCall);
    };

    it("blocks a reentrant withdraw during stake", async () => {
      const { token, staking, operator } = await loadFixture(reentrantFixture);
      await token.write.arm([staking.address, encodeFunctionData({ abi: staking.abi, functionName: "withdraw" })]);
      await staking.write.stake([100n], { account: operator.account });
      await expectBlocked(token);
      expect((await staking.read.stakeOf([operator.account.address])).bonded).toBe(700n);
    });

    it("blocks a reentrant stake during withdraw", async () => {
      const { token, staking, operator } = await loadFixture(reentrantFixture);
      await staking.write.requestUnbond([600n], { account: operator.account });
      await time.increase(7n * DAY);
      await token.write.arm([
        staking.address,
        encodeFunctionData({ abi: staking.abi, functionName: "stake", args: [1n] }),
      ]);
      await staking.write.withdraw({ account: operator.account });
      await expectBlocked(token);
      expect(await token.read.balanceOf([operator.account.address])).toBe(1_000n);
    });

    it("blocks a reentrant slash during a slash payout", async () => {
      const { token, staking, operator, admin } = await loadFixture(reentrantFixture);
      const slasherRole = await staking.read.SLASHER_ROLE();
      await staking.write.grantRole([slasherRole, admin.account.address]);
      await staking.write.grantRole([slasherRole, token.address]); // so only the reentrancy guard can stop it
      const slash = (amount: bigint) =>
        encodeFunctionData({
          abi: staking.abi,
          functionName: "slash",
          args: [operator.account.address, amount, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress],
        });
      await token.write.arm([staking.address, slash(500n)]);
      await staking.write.slash([operator.account.address, 50n, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress]);
      await expectBlocked(token);
      expect((await staking.read.stakeOf([operator.account.address])).bonded).toBe(550n);
    });
  });
});
