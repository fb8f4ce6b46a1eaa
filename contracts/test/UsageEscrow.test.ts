/**
 * UsageEscrow: deposits, delayed withdrawals, claims by serving nodes with the consumers' access tokens
 * (signed by the worker's own `signAccessToken`) as evidence, every reject reason, claimer eligibility,
 * price changes and admin.
 */
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type Hash, type Hex, getAddress, hashDomain, hashTypedData, keccak256, parseEventLogs, toHex, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { accessTokenTypedData, PROVIDER_ACCESS_TOKEN_TYPES } from "../../worker/src/mesh/access/request-token.ts";
import { feeModel } from "./services.fixture.ts";
import { ONE_OPEN, SlashReason, signPermit } from "./staking.fixture.ts";
import {
  CLAIM_WINDOW,
  MIN_PROVIDER_STAKE,
  PER_CALL,
  RejectReason,
  USAGE_FEE_BPS,
  WITHDRAWAL_DELAY,
  addNode,
  malleate,
  meteredParams,
  signCall,
  usageEscrowArgs,
  usageFixture,
  type Consumer,
  type SignedCall,
  type UsageFixture,
} from "./usage.fixture.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const FEE = BigInt(USAGE_FEE_BPS);

/** The fixture with consumer A having deposited 10 calls at PER_CALL. */
async function fundedFixture(connection: NetworkConnection) {
  const fx = await usageFixture(connection);
  await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], { account: fx.consumers[0]!.wallet.account });
  return fx;
}

const load = () => loadFixture(usageFixture);
const loadFunded = () => loadFixture(fundedFixture);

const nodeOf = (fx: UsageFixture) => ({ account: fx.node });
const as = (c: Consumer) => ({ account: c.wallet.account });

async function deposit(fx: UsageFixture, c: Consumer, amount: bigint, max = PER_CALL, serviceId = fx.serviceId) {
  return fx.escrow.write.deposit([serviceId, amount, max], as(c));
}

async function accountOf(fx: UsageFixture, c: Consumer, serviceId = fx.serviceId) {
  return fx.escrow.read.accountOf([serviceId, c.address]);
}

async function balanceOf(fx: UsageFixture, who: Hex) {
  return fx.token.read.balanceOf([who]);
}

/** Send a claim and decode its events. */
async function claim(fx: UsageFixture, calls: SignedCall[], o: { account?: UsageFixture["node"]; serviceId?: bigint } = {}) {
  const hash = await fx.escrow.write.claim([o.serviceId ?? fx.serviceId, calls], { account: o.account ?? fx.node });
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const logs = receipt.logs;
  return {
    hash,
    receipt,
    paid: parseEventLogs({ abi: fx.escrow.abi, logs, eventName: "CallPaid" }).map((l) => l.args),
    rejected: parseEventLogs({ abi: fx.escrow.abi, logs, eventName: "CallRejected" }).map((l) => l.args),
    claimed: parseEventLogs({ abi: fx.escrow.abi, logs, eventName: "Claimed" }).map((l) => l.args)[0]!,
  };
}

/** Reject reasons of a claim, in call order (CallPaid counts as None). */
async function outcomes(fx: UsageFixture, calls: SignedCall[], o: Parameters<typeof claim>[2] = {}) {
  const hash: Hash = await fx.escrow.write.claim([o.serviceId ?? fx.serviceId, calls], { account: o.account ?? fx.node });
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const events = parseEventLogs({ abi: fx.escrow.abi, logs: receipt.logs }).filter(
    (e) => e.eventName === "CallPaid" || e.eventName === "CallRejected",
  );
  return events.map((e) => (e.eventName === "CallRejected" ? (e.args as { reason: number }).reason : RejectReason.None));
}

describe("UsageEscrow", () => {
  describe("deployment and admin", () => {
    it("stores its parameters, reads staking from the node registry and emits the fee and treasury", async () => {
      const fx = await load();
      const { deployer, treasury } = fx.accounts;
      const args = usageEscrowArgs({ token: fx.token.address, services: fx.services.address, xnodes: fx.registry.address, admin: deployer.account.address, treasury: treasury.account.address });
      const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction("UsageEscrow", [...args]);
      const hash = Promise.resolve(deploymentTransaction.hash);
      await viem.assertions.emitWithArgs(hash, contract, "ProtocolFeeSet", [USAGE_FEE_BPS]);
      await viem.assertions.emitWithArgs(hash, contract, "TreasurySet", [getAddress(treasury.account.address)]);
      expect(await contract.read.token()).toBe(getAddress(fx.token.address));
      expect(await contract.read.services()).toBe(getAddress(fx.services.address));
      expect(await contract.read.xnodes()).toBe(getAddress(fx.registry.address));
      expect(await contract.read.staking()).toBe(getAddress(fx.staking.address));
      expect(await contract.read.withdrawalDelay()).toBe(WITHDRAWAL_DELAY);
      expect(await contract.read.claimWindow()).toBe(CLAIM_WINDOW);
      expect(await contract.read.protocolFeeBps()).toBe(USAGE_FEE_BPS);
      expect(await contract.read.treasury()).toBe(getAddress(treasury.account.address));
      expect(await contract.read.MAX_PROTOCOL_FEE_BPS()).toBe(1_000);
      expect(await contract.read.MAX_CALLS_PER_CLAIM()).toBe(256n);
      expect(await contract.read.hasRole([await contract.read.DEFAULT_ADMIN_ROLE(), deployer.account.address])).toBe(true);
    });

    it("rejects zero addresses and a fee above 10 %", async () => {
      const fx = await load();
      const good = usageEscrowArgs({
        token: fx.token.address,
        services: fx.services.address,
        xnodes: fx.registry.address,
        admin: fx.accounts.deployer.account.address,
        treasury: fx.accounts.treasury.account.address,
      });
      for (const i of [0, 1, 2, 3, 4]) {
        const bad = [...good] as unknown as typeof good;
        (bad as unknown as Hex[])[i] = zeroAddress;
        await viem.assertions.revertWithCustomError(viem.deployContract("UsageEscrow", [...bad]), fx.escrow, "UsageEscrowZeroAddress");
      }
      const tooHigh = [...good] as unknown as (string | number | bigint)[];
      tooHigh[5] = 1_001;
      await viem.assertions.revertWithCustomErrorWithArgs(
        viem.deployContract("UsageEscrow", tooHigh as never),
        fx.escrow,
        "UsageEscrowFeeTooHigh",
        [1_001, 1_000],
      );
    });

    it("lets only the admin set the fee (≤ 10 %) and the treasury (non-zero)", async () => {
      const fx = await load();
      const outsider = fx.accounts.outsider;
      await viem.assertions.emitWithArgs(fx.escrow.write.setProtocolFee([1_000]), fx.escrow, "ProtocolFeeSet", [1_000]);
      expect(await fx.escrow.read.protocolFeeBps()).toBe(1_000);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.setProtocolFee([1_001]), fx.escrow, "UsageEscrowFeeTooHigh", [1_001, 1_000]);
      await viem.assertions.emitWithArgs(fx.escrow.write.setTreasury([outsider.account.address]), fx.escrow, "TreasurySet", [
        getAddress(outsider.account.address),
      ]);
      expect(await fx.escrow.read.treasury()).toBe(getAddress(outsider.account.address));
      await viem.assertions.revertWithCustomError(fx.escrow.write.setTreasury([zeroAddress]), fx.escrow, "UsageEscrowZeroAddress");
      const adminRole = await fx.escrow.read.DEFAULT_ADMIN_ROLE();
      for (const call of [
        fx.escrow.write.setProtocolFee([0], { account: outsider.account }),
        fx.escrow.write.setTreasury([outsider.account.address], { account: outsider.account }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.escrow, "AccessControlUnauthorizedAccount", [
          getAddress(outsider.account.address),
          adminRole,
        ]);
      }
    });
  });

  describe("access-token EIP-712 (the ServiceRegistry's domain)", () => {
    it("has the domain separator and digests viem computes for the worker's typed data", async () => {
      const fx = await load();
      const domain = { name: "DSMP Access", version: "1", chainId: BigInt(fx.chainId), verifyingContract: fx.services.address } as const;
      expect(await fx.escrow.read.accessDomainSeparator()).toBe(hashDomain({ domain, types: { EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ] } }));
      const [a] = fx.consumers;
      const nonce = keccak256(toHex("a nonce"));
      const expiry = 1_900_000_000;
      const provider = fx.node.address;
      const typed = accessTokenTypedData({ chainId: fx.chainId, registry: fx.services.address, serviceId: fx.serviceId, consumer: a!.address, provider, expiry, nonce });
      expect(typed.types).toBe(PROVIDER_ACCESS_TOKEN_TYPES);
      expect(await fx.escrow.read.accessTokenDigest([fx.serviceId, a!.address, provider, BigInt(expiry), nonce])).toBe(hashTypedData(typed));
    });

    it("pays a call whose token the worker's signAccessToken signed (the gateway's code path)", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const call = await signCall(fx, a);
      const digest = await fx.escrow.read.accessTokenDigest([fx.serviceId, a.address, fx.node.address, call.expiry, call.nonce]);
      expect(digest).toBe(
        hashTypedData(
          accessTokenTypedData({ chainId: fx.chainId, registry: fx.services.address, serviceId: fx.serviceId, consumer: a.address, provider: fx.node.address, expiry: Number(call.expiry), nonce: call.nonce }),
        ),
      );
      const r = await claim(fx, [call]);
      expect(r.paid).toHaveLength(1);
      expect(await fx.escrow.read.isPaid([a.address, fx.node.address, call.nonce])).toBe(true);
    });
  });

  describe("deposits", () => {
    it("deposit escrows tokens, agrees to the current price and emits Deposited", async () => {
      const fx = await load();
      const a = fx.consumers[0]!;
      const before = await balanceOf(fx, a.address);
      await viem.assertions.emitWithArgs(deposit(fx, a, 5n * PER_CALL, PER_CALL), fx.escrow, "Deposited", [
        fx.serviceId, getAddress(a.address), getAddress(a.address), 5n * PER_CALL, 5n * PER_CALL, PER_CALL,
      ]);
      // The first agreement starts the first price era at its block's time and also prices earlier tokens.
      const agreedAt = BigInt(await time.latest());
      await deposit(fx, a, 3n, 2n * PER_CALL);
      expect(await accountOf(fx, a)).toEqual({
        balance: 5n * PER_CALL + 3n,
        pricePerCall: PER_CALL,
        pendingWithdrawal: 0n,
        withdrawableAt: 0n,
        priceAgreedAt: agreedAt,
        previousPricePerCall: PER_CALL,
      });
      expect(await balanceOf(fx, a.address)).toBe(before - 5n * PER_CALL - 3n);
      expect(await balanceOf(fx, fx.escrow.address)).toBe(5n * PER_CALL + 3n);
    });

    it("a zero deposit only re-agrees to the current price", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 2n * PER_CALL })], { account: fx.serviceOwner.account });
      const before = await balanceOf(fx, a.address);
      await viem.assertions.emitWithArgs(deposit(fx, a, 0n, 2n * PER_CALL), fx.escrow, "Deposited", [
        fx.serviceId, getAddress(a.address), getAddress(a.address), 0n, 10n * PER_CALL, 2n * PER_CALL,
      ]);
      expect((await accountOf(fx, a)).pricePerCall).toBe(2n * PER_CALL);
      expect(await balanceOf(fx, a.address)).toBe(before);
    });

    it("reverts for an unknown, non-per-call or retired service and above the caller's maximum price", async () => {
      const fx = await load();
      const a = fx.consumers[0]!;
      await viem.assertions.revertWithCustomErrorWithArgs(deposit(fx, a, 1n, PER_CALL, 99n), fx.services, "ServiceRegistryUnknownService", [99n]);
      await fx.services.write.publish([{ ...meteredParams({ perCall: 0n }), name: "flat" }], { account: fx.serviceOwner.account });
      const flat = await fx.services.read.serviceCount();
      await viem.assertions.revertWithCustomErrorWithArgs(deposit(fx, a, 1n, PER_CALL, flat), fx.escrow, "UsageEscrowNotPerCall", [flat]);
      await viem.assertions.revertWithCustomErrorWithArgs(deposit(fx, a, 1n, PER_CALL - 1n), fx.escrow, "UsageEscrowPriceAboveMax", [
        fx.serviceId, PER_CALL, PER_CALL - 1n,
      ]);
      await fx.services.write.retire([fx.serviceId], { account: fx.serviceOwner.account });
      await viem.assertions.revertWithCustomErrorWithArgs(deposit(fx, a, 1n), fx.escrow, "UsageEscrowServiceRetired", [fx.serviceId]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.depositFor([fx.serviceId, a.address, 1n, PER_CALL], as(fx.consumers[1]!)),
        fx.escrow,
        "UsageEscrowServiceRetired",
        [fx.serviceId],
      );
    });

    it("reverts when the balance would exceed 2^128 − 1", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await viem.assertions.revertWithCustomErrorWithArgs(deposit(fx, a, 2n ** 128n - 10n * PER_CALL), fx.escrow, "UsageEscrowBalanceOverflow", [
        fx.serviceId, getAddress(a.address),
      ]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.depositFor([fx.serviceId, a.address, 2n ** 256n - 1n, PER_CALL], as(fx.consumers[1]!)),
        fx.escrow,
        "UsageEscrowBalanceOverflow",
        [fx.serviceId, getAddress(a.address)],
      );
    });

    it("depositFor: the payer pays; it records a price only where none was agreed", async () => {
      const fx = await load();
      const [a, payer] = [fx.consumers[0]!, fx.consumers[1]!];
      const before = await balanceOf(fx, payer.address);
      await viem.assertions.emitWithArgs(
        fx.escrow.write.depositFor([fx.serviceId, a.address, 4n * PER_CALL, PER_CALL], as(payer)),
        fx.escrow,
        "Deposited",
        [fx.serviceId, getAddress(a.address), getAddress(payer.address), 4n * PER_CALL, 4n * PER_CALL, PER_CALL],
      );
      expect(await balanceOf(fx, payer.address)).toBe(before - 4n * PER_CALL);
      // A raise: the payer's deposit does not agree to it for the consumer.
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 3n * PER_CALL })], { account: fx.serviceOwner.account });
      await viem.assertions.emitWithArgs(
        fx.escrow.write.depositFor([fx.serviceId, a.address, PER_CALL, 3n * PER_CALL], as(payer)),
        fx.escrow,
        "Deposited",
        [fx.serviceId, getAddress(a.address), getAddress(payer.address), PER_CALL, 5n * PER_CALL, PER_CALL],
      );
      expect((await accountOf(fx, a)).pricePerCall).toBe(PER_CALL);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.depositFor([fx.serviceId, a.address, 1n, PER_CALL], as(payer)),
        fx.escrow,
        "UsageEscrowPriceAboveMax",
        [fx.serviceId, 3n * PER_CALL, PER_CALL],
      );
      await viem.assertions.revertWithCustomError(
        fx.escrow.write.depositFor([fx.serviceId, zeroAddress, 1n, 3n * PER_CALL], as(payer)),
        fx.escrow,
        "UsageEscrowZeroAddress",
      );
    });

    it("depositWithPermit works without an allowance, survives a front-run permit, and fails without either", async () => {
      const fx = await load();
      const a = fx.consumers[0]!;
      await fx.token.write.approve([fx.escrow.address, 0n], as(a));
      const deadline = BigInt(await time.latest()) + 3_600n;
      const sig = await signPermit({ token: fx.token, owner: a.wallet, spender: fx.escrow.address, value: 2n * PER_CALL, deadline, chainId: fx.chainId });
      const permit = { value: 2n * PER_CALL, deadline, ...sig };
      await fx.escrow.write.depositWithPermit([fx.serviceId, PER_CALL, PER_CALL, permit], as(a));
      // The same permit again (as if front-run): ignored, the remaining allowance pays.
      await fx.escrow.write.depositWithPermit([fx.serviceId, PER_CALL, PER_CALL, permit], as(a));
      expect((await accountOf(fx, a)).balance).toBe(2n * PER_CALL);
      await viem.assertions.revertWithCustomError(
        fx.escrow.write.depositWithPermit([fx.serviceId, PER_CALL, PER_CALL, permit], as(a)),
        fx.token,
        "ERC20InsufficientAllowance",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.depositWithPermit([fx.serviceId, PER_CALL, PER_CALL - 1n, permit], as(a)),
        fx.escrow,
        "UsageEscrowPriceAboveMax",
        [fx.serviceId, PER_CALL, PER_CALL - 1n],
      );
    });
  });

  describe("withdrawals", () => {
    it("request → wait withdrawalDelay → withdraw; the first second is withdrawableAt", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const t0 = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(t0);
      await viem.assertions.emitWithArgs(fx.escrow.write.requestWithdrawal([fx.serviceId, 4n * PER_CALL], as(a)), fx.escrow, "WithdrawalRequested", [
        fx.serviceId, getAddress(a.address), 4n * PER_CALL, t0 + WITHDRAWAL_DELAY,
      ]);
      expect(await accountOf(fx, a)).toMatchObject({ balance: 10n * PER_CALL, pricePerCall: PER_CALL, pendingWithdrawal: 4n * PER_CALL, withdrawableAt: t0 + WITHDRAWAL_DELAY });
      await time.setNextBlockTimestamp(t0 + WITHDRAWAL_DELAY - 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "UsageEscrowWithdrawalLocked", [
        fx.serviceId, getAddress(a.address), t0 + WITHDRAWAL_DELAY,
      ]);
      const before = await balanceOf(fx, a.address);
      await time.setNextBlockTimestamp(t0 + WITHDRAWAL_DELAY);
      await viem.assertions.emitWithArgs(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "Withdrawn", [
        fx.serviceId, getAddress(a.address), 4n * PER_CALL, 6n * PER_CALL,
      ]);
      expect(await balanceOf(fx, a.address)).toBe(before + 4n * PER_CALL);
      expect(await accountOf(fx, a)).toMatchObject({ balance: 6n * PER_CALL, pricePerCall: PER_CALL, pendingWithdrawal: 0n, withdrawableAt: 0n });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "UsageEscrowNoPendingWithdrawal", [
        fx.serviceId, getAddress(a.address),
      ]);
    });

    it("rejects a zero request or one above the balance; a new request replaces the old one", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      for (const amount of [0n, 10n * PER_CALL + 1n]) {
        await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.requestWithdrawal([fx.serviceId, amount], as(a)), fx.escrow, "UsageEscrowBadWithdrawalAmount", [
          fx.serviceId, amount, 10n * PER_CALL,
        ]);
      }
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.requestWithdrawal([fx.serviceId, 1n], as(fx.consumers[1]!)),
        fx.escrow,
        "UsageEscrowBadWithdrawalAmount",
        [fx.serviceId, 1n, 0n],
      );
      await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], as(a));
      await time.increase(WITHDRAWAL_DELAY);
      await fx.escrow.write.requestWithdrawal([fx.serviceId, 10n * PER_CALL], as(a)); // restarts the delay
      await viem.assertions.revertWithCustomError(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "UsageEscrowWithdrawalLocked");
      await time.increase(WITHDRAWAL_DELAY);
      await fx.escrow.write.withdraw([fx.serviceId], as(a));
      expect((await accountOf(fx, a)).balance).toBe(0n);
    });

    it("cancelWithdrawal drops the request and needs one", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.cancelWithdrawal([fx.serviceId], as(a)), fx.escrow, "UsageEscrowNoPendingWithdrawal", [
        fx.serviceId, getAddress(a.address),
      ]);
      await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], as(a));
      await viem.assertions.emitWithArgs(fx.escrow.write.cancelWithdrawal([fx.serviceId], as(a)), fx.escrow, "WithdrawalCancelled", [fx.serviceId, getAddress(a.address)]);
      expect(await accountOf(fx, a)).toMatchObject({ balance: 10n * PER_CALL, pricePerCall: PER_CALL, pendingWithdrawal: 0n, withdrawableAt: 0n });
      await time.increase(WITHDRAWAL_DELAY);
      await viem.assertions.revertWithCustomError(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "UsageEscrowNoPendingWithdrawal");
    });

    it("providers claim during the delay; withdraw then pays min(requested, balance), even 0", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await fx.escrow.write.requestWithdrawal([fx.serviceId, 8n * PER_CALL], as(a));
      const calls = await Promise.all(Array.from({ length: 4 }, () => signCall(fx, a)));
      await claim(fx, calls);
      await time.increase(WITHDRAWAL_DELAY);
      await viem.assertions.emitWithArgs(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "Withdrawn", [fx.serviceId, getAddress(a.address), 6n * PER_CALL, 0n]);
      expect(await balanceOf(fx, fx.escrow.address)).toBe(0n);
      // Everything claimed during the delay: the withdrawal pays nothing and clears the request.
      await deposit(fx, a, PER_CALL);
      await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], as(a));
      await claim(fx, [await signCall(fx, a)]);
      await time.increase(WITHDRAWAL_DELAY);
      const before = await balanceOf(fx, a.address);
      await viem.assertions.emitWithArgs(fx.escrow.write.withdraw([fx.serviceId], as(a)), fx.escrow, "Withdrawn", [fx.serviceId, getAddress(a.address), 0n, 0n]);
      expect(await balanceOf(fx, a.address)).toBe(before);
      expect((await accountOf(fx, a)).pendingWithdrawal).toBe(0n);
    });
  });

  describe("claims", () => {
    it("pays the operator gross − ceil(fee) and the treasury the fee, debits each consumer, and returns (paid, gross)", async () => {
      const fx = await loadFunded();
      const [a, b] = [fx.consumers[0]!, fx.consumers[1]!];
      await deposit(fx, b, 3n * PER_CALL);
      const calls = [await signCall(fx, a), await signCall(fx, b), await signCall(fx, a)];
      const operator = fx.operator.account.address;
      const treasury = fx.accounts.treasury.account.address;
      const [opBefore, trBefore, escrowBefore] = await Promise.all([balanceOf(fx, operator), balanceOf(fx, treasury), balanceOf(fx, fx.escrow.address)]);
      const sim = await fx.escrow.simulate.claim([fx.serviceId, calls], { account: fx.node });
      expect(sim.result).toEqual([3n, 3n * PER_CALL]);

      const r = await claim(fx, calls);
      const gross = 3n * PER_CALL;
      const fee = feeModel(gross, FEE);
      expect(fee).toBe((gross * FEE) / 10_000n + 1n); // the odd wei rounds up
      expect(r.paid.map((p) => [p.consumer, p.node, p.nonce, p.price, p.balance])).toEqual([
        [getAddress(a.address), getAddress(fx.node.address), calls[0]!.nonce, PER_CALL, 9n * PER_CALL],
        [getAddress(b.address), getAddress(fx.node.address), calls[1]!.nonce, PER_CALL, 2n * PER_CALL],
        [getAddress(a.address), getAddress(fx.node.address), calls[2]!.nonce, PER_CALL, 8n * PER_CALL],
      ]);
      expect(r.rejected).toEqual([]);
      expect(r.claimed).toEqual({
        serviceId: fx.serviceId, node: getAddress(fx.node.address), operator: getAddress(operator), paidCalls: 3n, rejectedCalls: 0n, operatorAmount: gross - fee, fee,
      });
      expect(await balanceOf(fx, operator)).toBe(opBefore + gross - fee);
      expect(await balanceOf(fx, treasury)).toBe(trBefore + fee);
      expect(await balanceOf(fx, fx.escrow.address)).toBe(escrowBefore - gross);
      expect((await accountOf(fx, a)).balance).toBe(8n * PER_CALL);
      expect((await accountOf(fx, b)).balance).toBe(2n * PER_CALL);
      for (const c of calls) expect(await fx.escrow.read.isPaid([c.consumer, fx.node.address, c.nonce])).toBe(true);
    });

    it("a claim that pays nothing succeeds with Claimed(0, …) and moves no tokens", async () => {
      const fx = await loadFunded();
      const b = fx.consumers[1]!; // no deposit
      const r = await claim(fx, [await signCall(fx, b)]);
      expect(r.claimed).toMatchObject({ paidCalls: 0n, rejectedCalls: 1n, operatorAmount: 0n, fee: 0n });
      expect(parseEventLogs({ abi: fx.token.abi, logs: r.receipt.logs, eventName: "Transfer" })).toEqual([]);
    });

    it("with a zero fee everything goes to the operator and nothing to the treasury", async () => {
      const fx = await loadFunded();
      await fx.escrow.write.setProtocolFee([0]);
      const r = await claim(fx, [await signCall(fx, fx.consumers[0]!)]);
      expect(r.claimed).toMatchObject({ operatorAmount: PER_CALL, fee: 0n });
      expect(parseEventLogs({ abi: fx.token.abi, logs: r.receipt.logs, eventName: "Transfer" })).toHaveLength(1);
    });

    it("Stale: claimable up to expiry + claimWindow inclusive, not one second later", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const expiry = BigInt(await time.latest()) + 60n;
      const [onTime, late] = [await signCall(fx, a, { expiry }), await signCall(fx, a, { expiry })];
      await time.setNextBlockTimestamp(expiry + CLAIM_WINDOW);
      expect(await outcomes(fx, [onTime])).toEqual([RejectReason.None]);
      await time.setNextBlockTimestamp(expiry + CLAIM_WINDOW + 1n);
      expect(await outcomes(fx, [late])).toEqual([RejectReason.Stale]);
      expect(await fx.escrow.read.isPaid([a.address, fx.node.address, late.nonce])).toBe(false);
    });

    it("BadSignature: another signer, a high-s (malleated) signature, another chain or registry, malformed bytes", async () => {
      const fx = await loadFunded();
      const [a, b] = [fx.consumers[0]!, fx.consumers[1]!];
      const good = await signCall(fx, a);
      const byB = await signCall(fx, b);
      const calls: SignedCall[] = [
        { ...byB, consumer: a.address }, // b signed a token naming b; claimed as a's
        { ...good, signature: malleate(good.signature) },
        await signCall(fx, a, { chainId: fx.chainId + 1 }),
        await signCall(fx, a, { registry: fx.escrow.address }),
        await signCall(fx, a, { registry: fx.registry.address }),
        { ...good, signature: good.signature.slice(0, 130) as Hex }, // 64 bytes
        { ...good, signature: "0x" },
        { ...good, signature: `0x${"00".repeat(65)}` },
        { ...good, expiry: good.expiry + 1n }, // a field that was not signed
        { ...good, nonce: keccak256(good.nonce) },
      ];
      expect(await outcomes(fx, calls)).toEqual(calls.map(() => RejectReason.BadSignature));
      expect((await accountOf(fx, a)).balance).toBe(10n * PER_CALL);
      // The original low-s signature is still good and unspent.
      expect(await outcomes(fx, [good])).toEqual([RejectReason.None]);
    });

    it("AlreadyPaid: a replay in the same batch and under another service; the same nonce signed for another node is another call, paid to it", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const call = await signCall(fx, a);
      expect(await outcomes(fx, [call, call])).toEqual([RejectReason.None, RejectReason.AlreadyPaid]);
      const other = await addNode(fx, fx.accounts.operators[1]);
      await fx.staking.write.stake([MIN_PROVIDER_STAKE], { account: fx.accounts.operators[1].account });
      // Both providers served a token with this nonce, each one naming itself: both are paid, once each (a
      // consumer cannot have two providers serve one nonce and pay one of them).
      const forOther = await signCall(fx, a, { nonce: call.nonce, provider: other.account.address });
      expect(await fx.escrow.read.isPaid([a.address, other.account.address, call.nonce])).toBe(false);
      expect(await outcomes(fx, [forOther, forOther], { account: other.account })).toEqual([RejectReason.None, RejectReason.AlreadyPaid]);
      expect(await fx.escrow.read.isPaid([a.address, other.account.address, call.nonce])).toBe(true);
      expect((await accountOf(fx, a)).balance).toBe(8n * PER_CALL);
      // The nonce is the consumer's across services too.
      await fx.services.write.publish([{ ...meteredParams({}), name: "second" }], { account: fx.serviceOwner.account });
      const second = await fx.services.read.serviceCount();
      await deposit(fx, a, PER_CALL, PER_CALL, second);
      const sameNonce = await signCall(fx, a, { serviceId: second, nonce: call.nonce });
      expect(await outcomes(fx, [sameNonce], { serviceId: second })).toEqual([RejectReason.AlreadyPaid]);
      expect((await accountOf(fx, a)).balance).toBe(8n * PER_CALL);
    });

    it("a token names its provider: another node cannot claim it (copied from a pending claim), and v 1 tokens pay nobody", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const other = await addNode(fx, fx.accounts.operators[1]);
      await fx.staking.write.stake([MIN_PROVIDER_STAKE], { account: fx.accounts.operators[1].account });
      const call = await signCall(fx, a); // for fx.node
      // The copier is an active, staked node of another operator: only the signature stops it.
      expect(await outcomes(fx, [call], { account: other.account })).toEqual([RejectReason.BadSignature]);
      expect(await fx.escrow.read.isPaid([a.address, fx.node.address, call.nonce])).toBe(false);
      const unbound = await signCall(fx, a, { provider: null });
      expect(await outcomes(fx, [unbound])).toEqual([RejectReason.BadSignature]);
      expect(await outcomes(fx, [unbound], { account: other.account })).toEqual([RejectReason.BadSignature]);
      // The node it names is paid, once.
      expect(await outcomes(fx, [call])).toEqual([RejectReason.None]);
      expect((await accountOf(fx, a)).balance).toBe(9n * PER_CALL);
    });

    it("a token for one service is a bad signature under another", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await fx.services.write.publish([{ ...meteredParams({}), name: "second" }], { account: fx.serviceOwner.account });
      const second = await fx.services.read.serviceCount();
      await deposit(fx, a, PER_CALL, PER_CALL, second);
      expect(await outcomes(fx, [await signCall(fx, a)], { serviceId: second })).toEqual([RejectReason.BadSignature]);
    });

    it("NoEscrow: a consumer that never deposited, and every call once perCall is 0", async () => {
      const fx = await loadFunded();
      const [a, b] = [fx.consumers[0]!, fx.consumers[1]!];
      const noDeposit = await signCall(fx, b);
      expect(await outcomes(fx, [noDeposit])).toEqual([RejectReason.NoEscrow]);
      expect(await fx.escrow.read.isPaid([b.address, fx.node.address, noDeposit.nonce])).toBe(false);
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 0n })], { account: fx.serviceOwner.account });
      const call = await signCall(fx, a);
      expect(await outcomes(fx, [call])).toEqual([RejectReason.NoEscrow]);
      // Price back on: the same token pays (a NoEscrow rejection does not consume the nonce).
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: PER_CALL })], { account: fx.serviceOwner.account });
      expect(await outcomes(fx, [call])).toEqual([RejectReason.None]);
    });

    it("InsufficientBalance: skipped without consuming the nonce; after a top-up the same token pays", async () => {
      const fx = await load();
      const a = fx.consumers[0]!;
      await deposit(fx, a, PER_CALL + PER_CALL / 2n);
      const [first, second] = [await signCall(fx, a), await signCall(fx, a)];
      const r = await claim(fx, [first, second]);
      expect(r.rejected.map((x) => [x.nonce, x.reason])).toEqual([[second.nonce, RejectReason.InsufficientBalance]]);
      expect(r.claimed).toMatchObject({ paidCalls: 1n, rejectedCalls: 1n });
      expect((await accountOf(fx, a)).balance).toBe(PER_CALL / 2n);
      expect(await fx.escrow.read.isPaid([a.address, fx.node.address, second.nonce])).toBe(false);
      await deposit(fx, a, PER_CALL);
      expect(await outcomes(fx, [second])).toEqual([RejectReason.None]);
      expect((await accountOf(fx, a)).balance).toBe(PER_CALL / 2n);
    });

    it("reasons are checked in order: Stale, BadSignature, AlreadyPaid, NoEscrow, InsufficientBalance", async () => {
      const fx = await loadFunded();
      const [a, b] = [fx.consumers[0]!, fx.consumers[1]!];
      const paid = await signCall(fx, a, { expiry: BigInt(await time.latest()) + 10n });
      await claim(fx, [paid]);
      const malleated = { ...paid, signature: malleate(paid.signature) };
      // Fresh tokens reusing the paid nonce, and b's (who never deposited).
      const replay = await signCall(fx, a, { nonce: paid.nonce });
      expect(await outcomes(fx, [{ ...replay, signature: malleate(replay.signature) }, replay])).toEqual([
        RejectReason.BadSignature, // bad and already paid
        RejectReason.AlreadyPaid,
      ]);
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 0n })], { account: fx.serviceOwner.account });
      expect(await outcomes(fx, [replay, await signCall(fx, b)])).toEqual([RejectReason.AlreadyPaid, RejectReason.NoEscrow]);
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: PER_CALL })], { account: fx.serviceOwner.account });
      await fx.escrow.write.requestWithdrawal([fx.serviceId, 9n * PER_CALL], as(a));
      await time.increase(WITHDRAWAL_DELAY);
      await fx.escrow.write.withdraw([fx.serviceId], as(a));
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 0n })], { account: fx.serviceOwner.account });
      const broke = await signCall(fx, a);
      expect(await outcomes(fx, [broke])).toEqual([RejectReason.NoEscrow]); // no price and no balance
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: PER_CALL })], { account: fx.serviceOwner.account });
      expect(await outcomes(fx, [broke])).toEqual([RejectReason.InsufficientBalance]);
      // Past the window everything is Stale first: malleated, already paid, and both.
      await time.increase(CLAIM_WINDOW + WITHDRAWAL_DELAY);
      expect(await outcomes(fx, [malleated, paid, { ...paid, signature: "0x" as Hex }])).toEqual([
        RejectReason.Stale,
        RejectReason.Stale,
        RejectReason.Stale,
      ]);
    });

    it("a price raise after the deposit pays the agreed (old) price until the consumer re-agrees", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 3n * PER_CALL })], { account: fx.serviceOwner.account });
      let r = await claim(fx, [await signCall(fx, a)]);
      expect(r.paid[0]!.price).toBe(PER_CALL);
      await deposit(fx, a, 0n, 3n * PER_CALL);
      r = await claim(fx, [await signCall(fx, a)]);
      expect(r.paid[0]!.price).toBe(3n * PER_CALL);
      expect((await accountOf(fx, a)).balance).toBe(6n * PER_CALL);
    });

    it("a re-agreement does not reprice calls signed before it: tokens expiring before it pay the earlier price", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      const now = (await fx.publicClient.getBlock()).timestamp;
      // Served before the raise: the gateway's token expired (now + 60) before the consumer re-agreed.
      const before = await signCall(fx, a, { expiry: now + 60n });
      // Signed just before the re-agreement but still valid at its moment: it counts as signed under it.
      const straddling = await signCall(fx, a, { expiry: now + 200n });
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 3n * PER_CALL })], { account: fx.serviceOwner.account });
      await time.setNextBlockTimestamp(now + 100n);
      await deposit(fx, a, 0n, 3n * PER_CALL);
      const acct = await accountOf(fx, a);
      expect([acct.pricePerCall, acct.previousPricePerCall, acct.priceAgreedAt]).toEqual([3n * PER_CALL, PER_CALL, now + 100n]);
      const after = await signCall(fx, a);
      const r = await claim(fx, [before, straddling, after]);
      expect(r.paid.map((p) => p.price)).toEqual([PER_CALL, 3n * PER_CALL, 3n * PER_CALL]);
      // A zero deposit at an unchanged price is no new agreement: the era boundary stays.
      await deposit(fx, a, 0n, 3n * PER_CALL);
      expect((await accountOf(fx, a)).priceAgreedAt).toBe(now + 100n);
    });

    it("the first deposit prices older tokens too (a chain clock ahead of the consumer's must not make them NoEscrow)", async () => {
      const fx = await load();
      const a = fx.consumers[0]!;
      const now = (await fx.publicClient.getBlock()).timestamp;
      const early = await signCall(fx, a, { expiry: now + 5n });
      await time.setNextBlockTimestamp(now + 3_600n);
      await deposit(fx, a, 5n * PER_CALL);
      const acct = await accountOf(fx, a);
      expect([acct.pricePerCall, acct.previousPricePerCall, acct.priceAgreedAt]).toEqual([PER_CALL, PER_CALL, now + 3_600n]);
      const r = await claim(fx, [early, await signCall(fx, a)]);
      expect(r.paid.map((p) => p.price)).toEqual([PER_CALL, PER_CALL]);
    });

    it("a price cut after the deposit pays the new (lower) price", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await fx.services.write.update([fx.serviceId, meteredParams({ perCall: PER_CALL / 4n })], { account: fx.serviceOwner.account });
      const r = await claim(fx, [await signCall(fx, a), await signCall(fx, a)]);
      expect(r.paid.map((p) => p.price)).toEqual([PER_CALL / 4n, PER_CALL / 4n]);
      expect(r.claimed.fee).toBe(feeModel(PER_CALL / 2n, FEE));
      expect((await accountOf(fx, a)).pricePerCall).toBe(PER_CALL); // the agreement itself is unchanged
    });

    it("calls of a retired service can still be claimed", async () => {
      const fx = await loadFunded();
      const call = await signCall(fx, fx.consumers[0]!);
      await fx.services.write.retire([fx.serviceId], { account: fx.serviceOwner.account });
      expect(await outcomes(fx, [call])).toEqual([RejectReason.None]);
    });

    it("reverts on an empty batch and on more than 256 calls; 256 is accepted", async () => {
      const fx = await loadFunded();
      const a = fx.consumers[0]!;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.claim([fx.serviceId, []], nodeOf(fx)), fx.escrow, "UsageEscrowBadBatchSize", [0n, 256n]);
      const call = await signCall(fx, a);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.claim([fx.serviceId, Array.from({ length: 257 }, () => call)], nodeOf(fx)),
        fx.escrow,
        "UsageEscrowBadBatchSize",
        [257n, 256n],
      );
      const r = await claim(fx, Array.from({ length: 256 }, () => call));
      expect(r.claimed).toMatchObject({ paidCalls: 1n, rejectedCalls: 255n });
    });

    it("a claim's gas does not depend on the service's strings (the owner cannot inflate it with a long metadata URI)", async () => {
      const gasOf = async (metadataURI: string) => {
        const fx = await loadFunded();
        if (metadataURI !== "") {
          await fx.services.write.update([fx.serviceId, { ...meteredParams({}), metadataURI }], { account: fx.serviceOwner.account });
        }
        const hash = await fx.escrow.write.claim([fx.serviceId, [await signCall(fx, fx.consumers[0]!)]], nodeOf(fx));
        return (await fx.publicClient.waitForTransactionReceipt({ hash })).gasUsed;
      };
      const short = await gasOf("");
      const long = await gasOf(`ipfs://${"x".repeat(8_192)}`);
      // Only the signature's random bytes change calldata cost between the two (a few hundred gas at most).
      expect(long > short ? long - short : short - long).toBeLessThan(500n);
    });

    it("reverts for an unknown service", async () => {
      const fx = await loadFunded();
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.claim([42n, [await signCall(fx, fx.consumers[0]!)]], nodeOf(fx)),
        fx.services,
        "ServiceRegistryUnknownService",
        [42n],
      );
    });
  });

  describe("who may claim", () => {
    const notServing = async (fx: UsageFixture, account: UsageFixture["node"]) => {
      const call = await signCall(fx, fx.consumers[0]!);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.claim([fx.serviceId, [call]], { account }), fx.escrow, "UsageEscrowNotServingNode", [
        fx.serviceId, getAddress(account.address),
      ]);
    };

    it("not a registered node: an outsider key, the operator's own wallet", async () => {
      const fx = await loadFunded();
      const stranger = privateKeyToAccount(generatePrivateKey());
      await fx.testClient.setBalance({ address: stranger.address, value: 10n ** 18n });
      await notServing(fx, stranger);
      const op = fx.operator.account;
      const call = await signCall(fx, fx.consumers[0]!);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.claim([fx.serviceId, [call]], { account: op }), fx.escrow, "UsageEscrowNotServingNode", [
        fx.serviceId, getAddress(op.address),
      ]);
    });

    it("a jailed node, and again after unjail it may", async () => {
      const fx = await loadFunded();
      await fx.registry.write.jail([fx.node.address, BigInt(await time.latest()) + 100n, keccak256(toHex("missed"))], { account: fx.accounts.jailer.account });
      await notServing(fx, fx.node);
      await fx.registry.write.unjail([fx.node.address], { account: fx.accounts.jailer.account });
      expect(await outcomes(fx, [await signCall(fx, fx.consumers[0]!)])).toEqual([RejectReason.None]);
    });

    it("a retired (unregistered) node", async () => {
      const fx = await loadFunded();
      await fx.registry.write.retire([fx.node.address], { account: fx.operator.account });
      await notServing(fx, fx.node);
    });

    it("an operator whose bonded stake is below the service's minProviderStake", async () => {
      const fx = await loadFunded();
      const bonded = (await fx.staking.read.stakeOf([fx.operator.account.address])).bonded;
      await fx.services.write.update([fx.serviceId, meteredParams({}, bonded + 1n)], { account: fx.serviceOwner.account });
      await notServing(fx, fx.node);
      await fx.staking.write.stake([1n], { account: fx.operator.account }); // bonded == minProviderStake now
      expect(await outcomes(fx, [await signCall(fx, fx.consumers[0]!)])).toEqual([RejectReason.None]);
    });

    it("an operator slashed below its locked stake (bonded < locked)", async () => {
      const fx = await loadFunded();
      await fx.services.write.update([fx.serviceId, meteredParams({}, 0n)], { account: fx.serviceOwner.account });
      await fx.staking.write.slash([fx.operator.account.address, ONE_OPEN, SlashReason.OTHER, keccak256(toHex("e")), zeroAddress], {
        account: fx.accounts.slasher.account,
      });
      const s = await fx.staking.read.stakeOf([fx.operator.account.address]);
      expect(s.bonded < s.locked).toBe(true);
      await notServing(fx, fx.node);
    });
  });
});
