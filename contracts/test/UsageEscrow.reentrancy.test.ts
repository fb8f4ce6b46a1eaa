/**
 * UsageEscrow paid in ReentrantERC20: on a token movement the token calls back into UsageEscrow; every such call
 * must fail with ReentrancyGuardReentrantCall while the outer call completes and the books still balance.
 */
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { encodeErrorResult, encodeFunctionData, maxUint256, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { devAccount } from "../../scripts/lib/dev-accounts.ts";
import { deployStakingFixture, registerNode } from "./staking.fixture.ts";
import { PER_CALL, WITHDRAWAL_DELAY, meteredParams, signCall, usageEscrowArgs, type Consumer, type UsageFixture } from "./usage.fixture.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

async function reentrantFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const wallets = await connection.viem.getWalletClients();
  const token = await connection.viem.deployContract("ReentrantERC20", []);
  const services = await connection.viem.deployContract("ServiceRegistry", []);
  const escrow = await connection.viem.deployContract("UsageEscrow", [
    ...usageEscrowArgs({ token: token.address, services: services.address, xnodes: fx.registry.address, admin: fx.accounts.deployer.account.address, treasury: fx.accounts.treasury.account.address }),
  ]);
  await services.write.publish([meteredParams({})], { account: wallets[12]!.account });
  const consumer: Consumer = { wallet: wallets[9]!, signer: devAccount(9), address: devAccount(9).address };
  await token.write.mint([consumer.address, 100n * PER_CALL]);
  await token.write.approve([escrow.address, maxUint256], { account: consumer.wallet.account });
  const operator = fx.accounts.operators[0];
  const reg = await registerNode(fx, { operator });
  const testClient = await connection.viem.getTestClient();
  await testClient.setBalance({ address: reg.node, value: parseEther("10") });
  const node = privateKeyToAccount(reg.nodeKey);
  return { ...fx, token, services, escrow, consumer, operator, node, serviceId: 1n, testClient };
}

type Fx = Awaited<ReturnType<typeof reentrantFixture>>;

const REENTRANT = (fx: Fx) => encodeErrorResult({ abi: fx.escrow.abi, errorName: "ReentrancyGuardReentrantCall" });
/** signCall only needs the escrow's chain, registry and service id. */
const sign = (fx: Fx) => signCall(fx as unknown as UsageFixture, fx.consumer);

/** Arm the token with `payload` against the escrow, run `outer`, and check the inner call was refused. */
async function expectRefused(fx: Fx, payload: `0x${string}`, outer: () => Promise<`0x${string}`>) {
  const attempts = await fx.token.read.attempts();
  await fx.token.write.arm([fx.escrow.address, payload]);
  await outer();
  expect(await fx.token.read.attempts()).toBe(attempts + 1n);
  expect(await fx.token.read.lastCallOk()).toBe(false);
  expect(await fx.token.read.lastReturn()).toBe(REENTRANT(fx));
}

describe("UsageEscrow reentrancy", () => {
  const c = (fx: Fx) => ({ account: fx.consumer.wallet.account });

  it("refuses a callback into withdraw during claim's payout", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], c(fx));
    await fx.escrow.write.requestWithdrawal([fx.serviceId, 10n * PER_CALL], c(fx));
    await time.increase(WITHDRAWAL_DELAY);
    const call = await sign(fx);
    const payload = encodeFunctionData({ abi: fx.escrow.abi, functionName: "withdraw", args: [fx.serviceId] });
    await expectRefused(fx, payload, () => fx.escrow.write.claim([fx.serviceId, [call]], { account: fx.node }));
    expect((await fx.escrow.read.accountOf([fx.serviceId, fx.consumer.address])).balance).toBe(9n * PER_CALL);
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(9n * PER_CALL);
  });

  it("refuses a callback into claim (the same calls again) during claim's payout", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], c(fx));
    const calls = [await sign(fx), await sign(fx)];
    const payload = encodeFunctionData({ abi: fx.escrow.abi, functionName: "claim", args: [fx.serviceId, calls] });
    await expectRefused(fx, payload, () => fx.escrow.write.claim([fx.serviceId, calls], { account: fx.node }));
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(8n * PER_CALL);
  });

  it("refuses a callback into claim during withdraw's transfer", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], c(fx));
    await fx.escrow.write.requestWithdrawal([fx.serviceId, 4n * PER_CALL], c(fx));
    await time.increase(WITHDRAWAL_DELAY);
    const payload = encodeFunctionData({ abi: fx.escrow.abi, functionName: "claim", args: [fx.serviceId, [await sign(fx)]] });
    await expectRefused(fx, payload, () => fx.escrow.write.withdraw([fx.serviceId], c(fx)));
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(6n * PER_CALL);
    expect((await fx.escrow.read.accountOf([fx.serviceId, fx.consumer.address])).balance).toBe(6n * PER_CALL);
  });

  it("refuses a callback into withdraw during deposit's transferFrom", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], c(fx));
    await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], c(fx));
    await time.increase(WITHDRAWAL_DELAY);
    const payload = encodeFunctionData({ abi: fx.escrow.abi, functionName: "withdraw", args: [fx.serviceId] });
    await expectRefused(fx, payload, () => fx.escrow.write.deposit([fx.serviceId, PER_CALL, PER_CALL], c(fx)));
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(11n * PER_CALL);
  });

  it("lets the same calls through when they are not nested (the guard is the only reason they failed)", async () => {
    const fx = await loadFixture(reentrantFixture);
    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], c(fx));
    await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], c(fx));
    await time.increase(WITHDRAWAL_DELAY);
    await viem.assertions.emit(fx.escrow.write.claim([fx.serviceId, [await sign(fx)]], { account: fx.node }), fx.escrow, "CallPaid");
    await viem.assertions.emit(fx.escrow.write.withdraw([fx.serviceId], c(fx)), fx.escrow, "Withdrawn");
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(8n * PER_CALL);
  });
});
