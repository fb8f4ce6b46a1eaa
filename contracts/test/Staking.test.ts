import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { keccak256, toHex, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import {
  deployStakingFixture,
  namedWallets,
  OPERATOR_FUNDING,
  OPERATOR_STAKE,
  signPermit,
  SlashReason,
  stakedOperatorFixture,
} from "./staking.fixture.js";

const connection = await network.create();
const { viem, networkHelpers } = connection;
const { time, loadFixture } = networkHelpers;

const DAY = 86_400n;
const EVIDENCE = keccak256(toHex("two signed results for round 7"));
const param = (name: string) => toHex(name, { size: 32 });

async function nextTimestamp(): Promise<bigint> {
  const next = BigInt(await time.latest()) + 10n;
  await time.setNextBlockTimestamp(next);
  return next;
}

describe("Staking", () => {
  describe("deployment", () => {
    it("starts with the documented defaults and emits each parameter", async () => {
      const { deployer: admin, treasury } = await namedWallets(connection);
      const token = await viem.deployContract("MockERC20", ["T", "T", 18]);
      const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction("Staking", [
        token.address,
        admin.account.address,
        treasury.account.address,
      ]);
      const hash = Promise.resolve(deploymentTransaction.hash);
      await viem.assertions.emitWithArgs(hash, contract, "UnbondingDelaySet", [7n * DAY]);
      await viem.assertions.emitWithArgs(hash, contract, "SlashParametersSet", [1_000, 5_000]);
      await viem.assertions.emitWithArgs(hash, contract, "TreasurySet", [treasury.account.address]);
      expect(await contract.read.unbondingDelay()).toBe(7n * DAY);
      expect(await contract.read.maxSlashBps()).toBe(1_000);
      expect(await contract.read.beneficiaryShareBps()).toBe(5_000);
      expect((await contract.read.token()).toLowerCase()).toBe(token.address.toLowerCase());
      expect((await contract.read.treasury()).toLowerCase()).toBe(treasury.account.address.toLowerCase());
      expect([
        await contract.read.REASON_EQUIVOCATION(),
        await contract.read.REASON_WRONG_RESULT(),
        await contract.read.REASON_NO_SHOW(),
        await contract.read.REASON_RESOURCE_PROOF_FAILED(),
        await contract.read.REASON_OTHER(),
      ]).toEqual([1, 2, 3, 4, 5]);
      expect(await contract.read.hasRole([await contract.read.DEFAULT_ADMIN_ROLE(), admin.account.address])).toBe(true);
    });

    it("rejects a zero token, admin or treasury", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const a = fx.accounts.deployer.account.address;
      for (const args of [
        [zeroAddress, a, a],
        [fx.token.address, zeroAddress, a],
        [fx.token.address, a, zeroAddress],
      ] as const) {
        await viem.assertions.revertWithCustomError(
          viem.deployContract("Staking", [...args]),
          fx.staking,
          "StakingZeroAddress",
        );
      }
    });
  });

  describe("stake", () => {
    it("bonds the caller's tokens and emits Staked with the new total", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [op] = fx.accounts.operators;
      const me = op.account.address;
      await viem.assertions.emitWithArgs(
        fx.staking.write.stake([100n], { account: op.account }),
        fx.staking,
        "Staked",
        [me, me, 100n, 100n],
      );
      await viem.assertions.emitWithArgs(fx.staking.write.stake([50n], { account: op.account }), fx.staking, "Staked", [
        me,
        me,
        50n,
        150n,
      ]);
      expect(await fx.staking.read.stakeOf([me])).toEqual({
        bonded: 150n,
        locked: 0n,
        unbonding: 0n,
        unbondingReleaseAt: 0n,
      });
      expect(await fx.staking.read.freeStakeOf([me])).toBe(150n);
      expect(await fx.token.read.balanceOf([fx.staking.address])).toBe(150n);
      expect(await fx.token.read.balanceOf([me])).toBe(OPERATOR_FUNDING - 150n);
    });

    it("stakeFor credits the operator and charges the payer", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [payer, op] = fx.accounts.operators;
      await viem.assertions.emitWithArgs(
        fx.staking.write.stakeFor([op.account.address, 70n], { account: payer.account }),
        fx.staking,
        "Staked",
        [op.account.address, payer.account.address, 70n, 70n],
      );
      expect((await fx.staking.read.stakeOf([op.account.address])).bonded).toBe(70n);
      expect((await fx.staking.read.stakeOf([payer.account.address])).bonded).toBe(0n);
      expect(await fx.token.read.balanceOf([payer.account.address])).toBe(OPERATOR_FUNDING - 70n);
    });

    it("rejects a zero amount, a zero operator and a missing allowance", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [op] = fx.accounts.operators;
      const { outsider } = fx.accounts;
      await viem.assertions.revertWithCustomError(
        fx.staking.write.stake([0n], { account: op.account }),
        fx.staking,
        "StakingZeroAmount",
      );
      await viem.assertions.revertWithCustomError(
        fx.staking.write.stakeFor([zeroAddress, 1n], { account: op.account }),
        fx.staking,
        "StakingZeroAddress",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.staking.write.stake([5n], { account: outsider.account }),
        fx.token,
        "ERC20InsufficientAllowance",
        [fx.staking.address, 0n, 5n],
      );
    });
  });

  describe("stakeWithPermit", () => {
    async function permitFixture(connection: NetworkConnection) {
      const fx = await deployStakingFixture(connection);
      const [op] = fx.accounts.operators;
      await fx.token.write.approve([fx.staking.address, 0n], { account: op.account });
      const deadline = BigInt(await time.latest()) + 3_600n;
      const sig = await signPermit({
        token: fx.token,
        owner: op,
        spender: fx.staking.address,
        value: 500n,
        deadline,
        chainId: fx.chainId,
      });
      return { ...fx, op, deadline, sig };
    }

    it("stakes without a prior approval and consumes the permit", async () => {
      const { staking, token, op, deadline, sig } = await loadFixture(permitFixture);
      const me = op.account.address;
      await viem.assertions.emitWithArgs(
        staking.write.stakeWithPermit([500n, deadline, sig.v, sig.r, sig.s], { account: op.account }),
        staking,
        "Staked",
        [me, me, 500n, 500n],
      );
      expect(await token.read.nonces([me])).toBe(1n);
      expect(await token.read.allowance([me, staking.address])).toBe(0n);
    });

    it("still stakes when someone front-ran the permit", async () => {
      const { staking, token, op, deadline, sig, accounts } = await loadFixture(permitFixture);
      const me = op.account.address;
      await token.write.permit([me, staking.address, 500n, deadline, sig.v, sig.r, sig.s], {
        account: accounts.outsider.account,
      });
      await staking.write.stakeWithPermit([500n, deadline, sig.v, sig.r, sig.s], { account: op.account });
      expect((await staking.read.stakeOf([me])).bonded).toBe(500n);
    });

    it("reverts on the transfer when the permit is invalid and there is no allowance", async () => {
      const { staking, token, op, deadline, sig } = await loadFixture(permitFixture);
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.stakeWithPermit([501n, deadline, sig.v, sig.r, sig.s], { account: op.account }),
        token,
        "ERC20InsufficientAllowance",
        [staking.address, 0n, 501n],
      );
    });
  });

  describe("requestUnbond and withdraw", () => {
    it("moves free stake to unbonding with a release time of now + delay", async () => {
      const { staking, operator } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      const now = await nextTimestamp();
      await viem.assertions.emitWithArgs(
        staking.write.requestUnbond([400n], { account: operator.account }),
        staking,
        "UnbondRequested",
        [me, 400n, 400n, now + 7n * DAY],
      );
      expect(await staking.read.stakeOf([me])).toEqual({
        bonded: OPERATOR_STAKE - 400n,
        locked: 0n,
        unbonding: 400n,
        unbondingReleaseAt: now + 7n * DAY,
      });
    });

    it("restarts the delay for the whole unbonding amount on a new request", async () => {
      const { staking, operator } = await loadFixture(stakedOperatorFixture);
      await staking.write.requestUnbond([400n], { account: operator.account });
      await time.increase(3n * DAY);
      const now = await nextTimestamp();
      await viem.assertions.emitWithArgs(
        staking.write.requestUnbond([100n], { account: operator.account }),
        staking,
        "UnbondRequested",
        [operator.account.address, 100n, 500n, now + 7n * DAY],
      );
    });

    it("rejects a zero amount and more than the free stake", async () => {
      const { staking, operator, accounts } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      await staking.write.lock([me, OPERATOR_STAKE - 10n, toHex(1, { size: 32 })], {
        account: accounts.locker.account,
      });
      await viem.assertions.revertWithCustomError(
        staking.write.requestUnbond([0n], { account: operator.account }),
        staking,
        "StakingZeroAmount",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.requestUnbond([11n], { account: operator.account }),
        staking,
        "StakingInsufficientFreeStake",
        [me, 10n, 11n],
      );
    });

    it("withdraws only once the delay has passed, then nothing is left", async () => {
      const { staking, token, operator } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      const requestedAt = await nextTimestamp();
      await staking.write.requestUnbond([OPERATOR_STAKE], { account: operator.account });
      const releaseAt = requestedAt + 7n * DAY;

      await time.setNextBlockTimestamp(releaseAt - 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.withdraw({ account: operator.account }),
        staking,
        "StakingUnbondingNotReleased",
        [me, releaseAt, releaseAt - 1n],
      );

      await time.setNextBlockTimestamp(releaseAt);
      await viem.assertions.emitWithArgs(staking.write.withdraw({ account: operator.account }), staking, "Withdrawn", [
        me,
        OPERATOR_STAKE,
      ]);
      expect(await token.read.balanceOf([me])).toBe(OPERATOR_FUNDING);
      expect(await staking.read.stakeOf([me])).toEqual({
        bonded: 0n,
        locked: 0n,
        unbonding: 0n,
        unbondingReleaseAt: 0n,
      });

      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.withdraw({ account: operator.account }),
        staking,
        "StakingNothingToWithdraw",
        [me],
      );
    });

    it("has nothing to withdraw without an unbond request", async () => {
      const { staking, operator } = await loadFixture(stakedOperatorFixture);
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.withdraw({ account: operator.account }),
        staking,
        "StakingNothingToWithdraw",
        [operator.account.address],
      );
    });
  });

  describe("lock and unlock", () => {
    const REF = toHex("lease-1", { size: 32 });

    it("locks free stake per locker and unlocks it", async () => {
      const { staking, operator, accounts } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      const locker = accounts.locker;
      await viem.assertions.emitWithArgs(
        staking.write.lock([me, 600n, REF], { account: locker.account }),
        staking,
        "StakeLocked",
        [locker.account.address, me, 600n, REF],
      );
      expect(await staking.read.lockedBy([locker.account.address, me])).toBe(600n);
      expect(await staking.read.freeStakeOf([me])).toBe(OPERATOR_STAKE - 600n);
      expect((await staking.read.stakeOf([me])).locked).toBe(600n);

      await viem.assertions.emitWithArgs(
        staking.write.unlock([me, 250n, REF], { account: locker.account }),
        staking,
        "StakeUnlocked",
        [locker.account.address, me, 250n, REF],
      );
      expect(await staking.read.lockedBy([locker.account.address, me])).toBe(350n);
      expect(await staking.read.freeStakeOf([me])).toBe(OPERATOR_STAKE - 350n);
    });

    it("is restricted to LOCKER_ROLE", async () => {
      const { staking, operator, accounts, roles } = await loadFixture(stakedOperatorFixture);
      const who = accounts.outsider.account;
      for (const call of [
        staking.write.lock([operator.account.address, 1n, REF], { account: who }),
        staking.write.unlock([operator.account.address, 1n, REF], { account: who }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, staking, "AccessControlUnauthorizedAccount", [
          who.address,
          roles.locker,
        ]);
      }
    });

    it("rejects zero amounts and locking more than the free stake", async () => {
      const { staking, operator, accounts } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      const locker = accounts.locker.account;
      await viem.assertions.revertWithCustomError(
        staking.write.lock([me, 0n, REF], { account: locker }),
        staking,
        "StakingZeroAmount",
      );
      await viem.assertions.revertWithCustomError(
        staking.write.unlock([me, 0n, REF], { account: locker }),
        staking,
        "StakingZeroAmount",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.lock([me, OPERATOR_STAKE + 1n, REF], { account: locker }),
        staking,
        "StakingInsufficientFreeStake",
        [me, OPERATOR_STAKE, OPERATOR_STAKE + 1n],
      );
    });

    it("lets a locker unlock only what it locked itself", async () => {
      const { staking, registry, operator, accounts } = await loadFixture(stakedOperatorFixture);
      const me = operator.account.address;
      const locker = accounts.locker;
      await staking.write.lock([me, 100n, REF], { account: locker.account });
      // another locker (here an EOA standing in for the registry) holds collateral too
      await staking.write.grantRole([await staking.read.LOCKER_ROLE(), accounts.jailer.account.address]);
      await staking.write.lock([me, 900n, REF], { account: accounts.jailer.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.unlock([me, 101n, REF], { account: locker.account }),
        staking,
        "StakingUnlockExceedsLock",
        [locker.account.address, me, 100n, 101n],
      );
      expect(await staking.read.lockedBy([registry.address, me])).toBe(0n);
    });
  });

  describe("parameters", () => {
    it("sets the unbonding delay within [1 day, 90 days]; pending unbonds keep their release time", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      await fx.staking.write.requestUnbond([1n], { account: fx.operator.account });
      const pending = (await fx.staking.read.stakeOf([fx.operator.account.address])).unbondingReleaseAt;
      for (const ok of [DAY, 90n * DAY, 14n * DAY]) {
        await viem.assertions.emitWithArgs(fx.staking.write.setUnbondingDelay([ok]), fx.staking, "UnbondingDelaySet", [
          ok,
        ]);
      }
      for (const bad of [DAY - 1n, 90n * DAY + 1n, 0n]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          fx.staking.write.setUnbondingDelay([bad]),
          fx.staking,
          "StakingInvalidParameter",
          [param("unbondingDelay"), bad],
        );
      }
      expect((await fx.staking.read.stakeOf([fx.operator.account.address])).unbondingReleaseAt).toBe(pending);
      const now = await nextTimestamp();
      await fx.staking.write.requestUnbond([1n], { account: fx.operator.account });
      expect((await fx.staking.read.stakeOf([fx.operator.account.address])).unbondingReleaseAt).toBe(now + 14n * DAY);
    });

    it("sets slash parameters within bounds", async () => {
      const { staking } = await loadFixture(deployStakingFixture);
      await viem.assertions.emitWithArgs(
        staking.write.setSlashParameters([5_000, 10_000]),
        staking,
        "SlashParametersSet",
        [5_000, 10_000],
      );
      await viem.assertions.emitWithArgs(
        staking.write.setSlashParameters([0, 0]),
        staking,
        "SlashParametersSet",
        [0, 0],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.setSlashParameters([5_001, 0]),
        staking,
        "StakingInvalidParameter",
        [param("maxSlashBps"), 5_001n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        staking.write.setSlashParameters([0, 10_001]),
        staking,
        "StakingInvalidParameter",
        [param("beneficiaryShareBps"), 10_001n],
      );
    });

    it("sets a non-zero treasury that receives later slashes", async () => {
      const fx = await loadFixture(stakedOperatorFixture);
      const newTreasury = fx.accounts.jailer.account.address;
      await viem.assertions.emitWithArgs(fx.staking.write.setTreasury([newTreasury]), fx.staking, "TreasurySet", [
        newTreasury,
      ]);
      await viem.assertions.revertWithCustomError(
        fx.staking.write.setTreasury([zeroAddress]),
        fx.staking,
        "StakingZeroAddress",
      );
      await fx.staking.write.slash(
        [fx.operator.account.address, 10n, SlashReason.EQUIVOCATION, EVIDENCE, zeroAddress],
        {
          account: fx.accounts.slasher.account,
        },
      );
      expect(await fx.token.read.balanceOf([newTreasury])).toBe(10n);
    });

    it("restricts every setter to DEFAULT_ADMIN_ROLE", async () => {
      const { staking, accounts, roles } = await loadFixture(deployStakingFixture);
      const who = accounts.outsider.account;
      for (const call of [
        staking.write.setUnbondingDelay([DAY], { account: who }),
        staking.write.setSlashParameters([1, 1], { account: who }),
        staking.write.setTreasury([who.address], { account: who }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, staking, "AccessControlUnauthorizedAccount", [
          who.address,
          roles.admin,
        ]);
      }
    });
  });
});
