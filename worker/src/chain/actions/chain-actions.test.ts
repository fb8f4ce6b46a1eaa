/**
 * The chain actions against a real `hardhat node` with the real deployment (scripts/lib/deploy.ts): an operator
 * stakes and registers a node, an owner publishes services, a consumer subscribes and cancels; reverts come
 * out as ChainRevertError with readable messages, and an approval is only sent when it is needed and useful.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { abis, type Deployment } from "@dsmp/contracts";
import { bytesToHex, parseEther, zeroHash, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploy } from "../../../../scripts/lib/deploy.ts";
import { devPrivateKey } from "../../../../scripts/lib/dev-accounts.ts";
import { startHardhatNode, type HardhatNode } from "../../../../scripts/lib/hardhat-node.ts";
import { ChainAccountRequiredError, ChainRevertError } from "../../errors.ts";
import { createKeystore } from "../../identity/keystore.ts";
import { createDsmpChainClient, type DsmpChainClient } from "../chain-client.ts";
import { cancelSubscription } from "./cancel-subscription.ts";
import { drawFaucet } from "./draw-faucet.ts";
import { getNode } from "./get-node.ts";
import { getService } from "./get-service.ts";
import { getStake } from "./get-stake.ts";
import { getSubscriberCount } from "./get-subscriber-count.ts";
import { getSubscription } from "./get-subscription.ts";
import { getTokenBalance } from "./get-token-balance.ts";
import { grantAccess } from "./grant-access.ts";
import { listServices } from "./list-services.ts";
import { publishService, type ServiceDefinition } from "./publish-service.ts";
import { registerNode } from "./register-node.ts";
import { requestUnbond } from "./request-unbond.ts";
import { retireService } from "./retire-service.ts";
import { revokeAccess } from "./revoke-access.ts";
import { stake } from "./stake.ts";
import { subscribe } from "./subscribe.ts";
import { subscribeOnce } from "./subscribe-once.ts";
import { updateService } from "./update-service.ts";
import { withdraw } from "./withdraw.ts";

const THIRTY_DAYS = 30n * 86_400n;

function definition(overrides: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return {
    name: "weather",
    kind: "http",
    visibility: "public",
    pricing: { perCall: 0n, perPeriod: parseEther("5"), periodSeconds: THIRTY_DAYS, oneTime: 0n, oneTimeDuration: 0n },
    manifestHash: zeroHash,
    minReplicas: 1,
    maxReplicas: 3,
    minProviderStake: 0n,
    metadataURI: "",
    ...overrides,
  };
}

/** Expect `promise` to reject with a ChainRevertError named `errorName`; returns it. */
async function revert(promise: Promise<unknown>, errorName: string): Promise<ChainRevertError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChainRevertError);
  expect((error as ChainRevertError).errorName).toBe(errorName);
  return error as ChainRevertError;
}

describe("chain actions on a hardhat node", () => {
  let node: HardhatNode;
  let dir: string;
  let deployment: Deployment;
  const clientFor = (index: number | undefined): Promise<DsmpChainClient> =>
    createDsmpChainClient({
      rpcUrl: node.rpcUrl,
      deployment,
      account: index === undefined ? undefined : privateKeyToAccount(devPrivateKey(index)),
    });

  beforeAll(async () => {
    node = await startHardhatNode();
    dir = mkdtempSync(join(tmpdir(), "dsmp-actions-"));
    deployment = await deploy({ rpcUrl: node.rpcUrl, privateKey: devPrivateKey(0), outDir: dir });
  });
  afterAll(async () => {
    await node?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("stake, register a node, unbond and withdraw", async () => {
    const operator = await clientFor(1);
    const address = operator.wallet!.account.address;
    await drawFaucet(operator, { amount: parseEther("1000") });
    expect(await getTokenBalance(operator, { account: address })).toBe(parseEther("1000"));

    const staked = await stake(operator, { amount: parseEther("150") });
    expect(staked.approval?.amount).toBe(parseEther("150"));
    expect(staked.txHashes).toEqual([staked.approval!.hash, staked.hash]);
    expect(staked.bonded).toBe(parseEther("150"));

    const identity = await createKeystore(join(dir, "node-key.json"));
    const registered = await registerNode(operator, {
      node: identity,
      resources: { cpuMillicores: 4_000, memoryMiB: 8_192, storageGiB: 100, gpus: 1 },
      slots: 4,
      metadataURI: "ipfs://meta",
    });
    expect(registered.node).toBe(identity.address);
    expect(registered.peerId).toBe(bytesToHex(identity.peerIdBytes()));
    expect(registered.bond).toBe(parseEther("100"));
    const record = await getNode(operator, { node: identity.address });
    expect(record).toMatchObject({ operator: address, status: "active", slots: 4, metadataURI: "ipfs://meta" });
    expect(record.resources).toEqual({ cpuMillicores: 4_000, memoryMiB: 8_192, storageGiB: 100, gpus: 1 });

    await revert(registerNode(operator, { node: identity, resources: record.resources, slots: 1 }), "XnodeRegistryNodeAlreadyRegistered");
    const tooMuch = await revert(requestUnbond(operator, { amount: parseEther("60") }), "StakingInsufficientFreeStake");
    expect(tooMuch.shortMessage).toMatch(/^insufficient free stake: have 50 OPEN, need 60 OPEN/);

    const unbond = await requestUnbond(operator, { amount: parseEther("50") });
    expect(unbond.unbonding).toBe(parseEther("50"));
    const status = await getStake(operator, { operator: address });
    expect(status).toMatchObject({ bonded: parseEther("100"), locked: parseEther("100"), free: 0n, unbonding: parseEther("50") });
    expect(status.unbondingReleaseAt).toBe(unbond.releaseAt);

    const locked = await revert(withdraw(operator), "StakingUnbondingNotReleased");
    expect(locked.shortMessage).toMatch(/^unbonding stake is locked until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC \(6d 23h from now\)$/);

    const rpc = (method: string, params: unknown[] = []) => operator.public.request({ method: method as never, params: params as never });
    await rpc("evm_increaseTime", [Number(status.unbondingDelay)]);
    await rpc("evm_mine");
    expect((await withdraw(operator)).amount).toBe(parseEther("50"));
    await revert(withdraw(operator), "StakingNothingToWithdraw");
  });

  it("register without stake fails with the stake it needs", async () => {
    const operator = await clientFor(5);
    const identity = await createKeystore(join(dir, "poor-node-key.json"));
    const error = await revert(
      registerNode(operator, { node: identity, resources: { cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 0, gpus: 0 }, slots: 1 }),
      "XnodeRegistryInsufficientStake",
    );
    expect(error.shortMessage).toBe("insufficient stake: have 0 OPEN, need 100 OPEN — stake more with `dsmp stake 100`");
  });

  it("publish, list, subscribe, allow-list, cancel, retire", async () => {
    const owner = await clientFor(2);
    const consumer = await clientFor(3);
    const consumerAddress = consumer.wallet!.account.address;
    await drawFaucet(consumer, { amount: parseEther("1000") });

    const before = (await listServices(owner)).length;
    const paid = await publishService(owner, { service: definition({ name: "paid" }) });
    const privateOne = await publishService(owner, {
      service: definition({ name: "private", visibility: "private", pricing: { ...definition().pricing, perPeriod: parseEther("1"), periodSeconds: 86_400n } }),
    });
    const services = await listServices(owner);
    expect(services).toHaveLength(before + 2);
    expect(services.at(-1)).toMatchObject({ id: privateOne.serviceId, name: "private", visibility: "private", status: "active" });
    expect(await getService(owner, { serviceId: paid.serviceId })).toMatchObject({ name: "paid", kind: "http", owner: owner.wallet!.account.address });
    await revert(getService(owner, { serviceId: 999n }), "ServiceRegistryUnknownService");

    const sub = await subscribe(consumer, { serviceId: paid.serviceId, periods: 2 });
    expect(sub.deposit).toBe(parseEther("10"));
    expect(sub.approval?.amount).toBe(parseEther("10"));
    expect(await getSubscriberCount(consumer, { serviceId: paid.serviceId })).toBe(1n);
    expect(await getSubscription(consumer, { serviceId: paid.serviceId, consumer: consumerAddress })).toMatchObject({
      active: true,
      counted: true,
      paidUntil: sub.paidUntil,
    });

    // Not allow-listed: the preflight fails with the real reason and no approval is spent.
    const denied = await revert(subscribe(consumer, { serviceId: privateOne.serviceId, periods: 1 }), "SubscriptionsNotAllowed");
    expect(denied.shortMessage).toBe(`account ${consumerAddress} is not on the allow-list of service ${privateOne.serviceId}`);
    const allowance = await consumer.public.readContract({
      address: consumer.contracts.token,
      abi: abis.OpenToken,
      functionName: "allowance",
      args: [consumerAddress, consumer.contracts.subscriptions],
    });
    expect(allowance).toBe(0n);

    await grantAccess(owner, { serviceId: privateOne.serviceId, consumer: consumerAddress });
    expect((await subscribe(consumer, { serviceId: privateOne.serviceId, periods: 1 })).deposit).toBe(parseEther("1"));
    await revokeAccess(owner, { serviceId: privateOne.serviceId, consumer: consumerAddress });
    await revert(subscribe(consumer, { serviceId: privateOne.serviceId, periods: 1 }), "SubscriptionsNotAllowed");

    await revert(subscribeOnce(consumer, { serviceId: paid.serviceId }), "SubscriptionsNotOneTime");
    const above = await revert(
      subscribe(consumer, { serviceId: paid.serviceId, periods: 1, maxPricePerPeriod: parseEther("4") }),
      "SubscriptionsPriceAboveMax",
    );
    expect(above.shortMessage).toBe(`the price of service ${paid.serviceId} is 5 OPEN, above the most you accepted (4 OPEN)`);

    const cancelled = await cancelSubscription(consumer, { serviceId: paid.serviceId });
    expect(cancelled.refund).toBeGreaterThan(parseEther("9.99"));
    expect(cancelled.refund).toBeLessThanOrEqual(parseEther("10"));
    expect(await getSubscriberCount(consumer, { serviceId: paid.serviceId })).toBe(0n);
    await revert(cancelSubscription(consumer, { serviceId: paid.serviceId }), "SubscriptionsNothingToCancel");

    const once = await publishService(owner, {
      service: definition({ name: "once", pricing: { ...definition().pricing, perPeriod: 0n, periodSeconds: 0n, oneTime: parseEther("2"), oneTimeDuration: 3_600n } }),
    });
    const bought = await subscribeOnce(consumer, { serviceId: once.serviceId });
    expect(bought.price).toBe(parseEther("2"));

    await updateService(owner, { serviceId: paid.serviceId, service: definition({ name: "paid-v2" }) });
    expect((await getService(owner, { serviceId: paid.serviceId })).name).toBe("paid-v2");
    const notOwner = await revert(retireService(consumer, { serviceId: paid.serviceId }), "ServiceRegistryNotOwner");
    expect(notOwner.shortMessage).toBe(`account ${consumerAddress} is not the owner of service ${paid.serviceId}`);
    await retireService(owner, { serviceId: paid.serviceId });
    await revert(updateService(owner, { serviceId: paid.serviceId, service: definition() }), "ServiceRegistryServiceRetired");
    expect((await listServices(owner, { includeRetired: false })).map((s) => s.id)).not.toContain(paid.serviceId);
  });

  it("refuses to approve what the account cannot pay, and to write without an account", async () => {
    const broke = await clientFor(6);
    const address: Address = broke.wallet!.account.address;
    const error = await revert(stake(broke, { amount: parseEther("5") }), "ERC20InsufficientBalance");
    expect(error.shortMessage).toBe(`insufficient balance: account ${address} has 0 OPEN, needs 5 OPEN`);
    const zero = await revert(stake(broke, { amount: 0n }), "StakingZeroAmount");
    expect(zero.shortMessage).toBe("the amount must be greater than zero");

    const funded = await clientFor(1);
    const aborted = AbortSignal.abort();
    await expect(stake(funded, { amount: parseEther("1"), signal: aborted })).rejects.toThrow("interrupted before sending approve");

    const readOnly = await clientFor(undefined);
    await expect(stake(readOnly, { amount: 1n })).rejects.toBeInstanceOf(ChainAccountRequiredError);
  });
});
