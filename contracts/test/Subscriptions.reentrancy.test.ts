/**
 * Subscriptions paid in ReentrantERC20: on a token movement the token calls back into Subscriptions; every
 * such call must fail with ReentrancyGuardReentrantCall while the outer call completes.
 */
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { encodeErrorResult, encodeFunctionData, getAddress, maxUint256 } from "viem";
import { describe, expect, it } from "vitest";
import { DAY, DEFAULT_FEE_BPS, serviceParams } from "./services.fixture.js";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const PRICE = 1_000_000n;
const PERIOD = 30n * DAY;

async function reentrantFixture(connection: NetworkConnection) {
  const { viem } = connection;
  const [deployer, treasury, owner, consumer] = await viem.getWalletClients();
  const token = await viem.deployContract("ReentrantERC20", []);
  const registry = await viem.deployContract("ServiceRegistry", []);
  const subscriptions = await viem.deployContract("Subscriptions", [
    token.address,
    registry.address,
    deployer!.account.address,
    treasury!.account.address,
    DEFAULT_FEE_BPS,
  ]);
  await registry.write.publish(
    [serviceParams({ pricing: { perPeriod: PRICE, periodSeconds: PERIOD, oneTime: PRICE, oneTimeDuration: DAY } })],
    { account: owner!.account },
  );
  await token.write.mint([consumer!.account.address, 100n * PRICE]);
  await token.write.approve([subscriptions.address, maxUint256], { account: consumer!.account });
  return { token, registry, subscriptions, consumer: consumer!, id: 1n };
}

type Fx = Awaited<ReturnType<typeof reentrantFixture>>;

const REENTRANT = (fx: Fx) => encodeErrorResult({ abi: fx.subscriptions.abi, errorName: "ReentrancyGuardReentrantCall" });

/** Arm the token with `payload` against Subscriptions, run `outer`, and check the inner call was refused. */
async function expectRefused(fx: Fx, payload: `0x${string}`, outer: () => Promise<`0x${string}`>) {
  const attempts = await fx.token.read.attempts();
  await fx.token.write.arm([fx.subscriptions.address, payload]);
  await outer();
  expect(await fx.token.read.attempts()).toBe(attempts + 1n);
  expect(await fx.token.read.lastCallOk()).toBe(false);
  expect(await fx.token.read.lastReturn()).toBe(REENTRANT(fx));
}

describe("Subscriptions reentrancy", () => {
  const settlePayload = (fx: Fx) =>
    encodeFunctionData({ abi: fx.subscriptions.abi, functionName: "settle", args: [fx.id, fx.consumer.account.address] });

  it("refuses a callback into settle during cancel's transfers", async () => {
    const fx = await loadFixture(reentrantFixture);
    const c = { account: fx.consumer.account };
    await fx.subscriptions.write.subscribe([fx.id, 2, PRICE, []], c);
    await time.increase(10n * DAY);
    await expectRefused(fx, settlePayload(fx), () => fx.subscriptions.write.cancel([fx.id], c));
    // The outer cancel completed and the books balance.
    expect((await fx.subscriptions.read.getSubscription([fx.id, fx.consumer.account.address])).balance).toBe(0n);
    expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
  });

  it("refuses a callback into cancel during subscribe's transferFrom", async () => {
    const fx = await loadFixture(reentrantFixture);
    const payload = encodeFunctionData({ abi: fx.subscriptions.abi, functionName: "cancel", args: [fx.id] });
    await expectRefused(fx, payload, () => fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], { account: fx.consumer.account }));
    expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(PRICE);
  });

  it("refuses a callback into settleMany during settle's payout", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], { account: fx.consumer.account });
    await time.increase(PERIOD);
    const payload = encodeFunctionData({
      abi: fx.subscriptions.abi,
      functionName: "settleMany",
      args: [fx.id, [getAddress(fx.consumer.account.address)]],
    });
    await expectRefused(fx, payload, () => fx.subscriptions.write.settle([fx.id, fx.consumer.account.address]));
    expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
  });

  it("refuses a callback into subscribeOnce during subscribeOnce's transferFrom", async () => {
    const fx = await loadFixture(reentrantFixture);
    const payload = encodeFunctionData({ abi: fx.subscriptions.abi, functionName: "subscribeOnce", args: [fx.id, PRICE, []] });
    await expectRefused(fx, payload, () => fx.subscriptions.write.subscribeOnce([fx.id, PRICE, []], { account: fx.consumer.account }));
  });

  it("lets the same call through when it is not nested (the guard is the only reason it failed)", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], { account: fx.consumer.account });
    await time.increase(DAY);
    const hash = await fx.subscriptions.write.settle([fx.id, fx.consumer.account.address]);
    await viem.assertions.emit(Promise.resolve(hash), fx.subscriptions, "Settled");
  });
});
