/**
 * Gas report: deploys DSMP with the real deploy script onto a fresh `hardhat node`, drives every
 * state-changing external function of every contract with realistic arguments, and rewrites docs/gas.md.
 * Fails (exit 1) if any state-changing function of a contract's ABI was not measured.
 *
 *   npm run gas            # or: node scripts/gas-report.ts [--out docs/gas.md]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  getContract,
  http,
  keccak256,
  encodeAbiParameters,
  maxUint256,
  parseEther,
  parseEventLogs,
  toHex,
  zeroHash,
  type Abi,
  type Address,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { abis } from "../contracts/index.ts";
import { nodeIdentity, signNodeRegistration } from "../contracts/test/staking.fixture.ts";
import { buildAllowlist, serviceParams, Visibility } from "../contracts/test/services.fixture.ts";
import { signPermit } from "../contracts/test/permit.ts";
import { randomNonce, signAccessToken } from "../worker/src/mesh/access/request-token.ts";
import { deploy } from "./lib/deploy.ts";
import { devAccount, devPrivateKey } from "./lib/dev-accounts.ts";
import { GasRecorder } from "./lib/gas-recorder.ts";
import { startHardhatNode } from "./lib/hardhat-node.ts";

/**
 * Functions this scenario cannot reach with OPEN, and why. Each is still covered by the contract tests.
 */
const NOT_REACHABLE: Record<string, string> = {};

const { values } = parseArgs({ options: { out: { type: "string", default: "docs/gas.md" } } });
const node = await startHardhatNode();
const log = (line: string) => console.error(`gas: ${line}`);

try {
  const chain = { ...hardhat, rpcUrls: { default: { http: [node.rpcUrl] } } };
  const transport = http(node.rpcUrl);
  const pub = createPublicClient({ chain, transport });
  const testClient = createTestClient({ chain, transport, mode: "hardhat" });
  const [admin, treasury, opA, opB, owner, c0, c1, c2, reporter, outsider] = Array.from({ length: 10 }, (_, i) =>
    createWalletClient({ chain, transport, account: devAccount(i) }),
  );
  const deployment = await deploy({ rpcUrl: node.rpcUrl, privateKey: devPrivateKey(0), treasury: treasury!.account.address, outDir: (await import("node:os")).tmpdir() });
  const at = <N extends keyof typeof abis>(name: N, wallet = admin!) =>
    getContract({ address: deployment.contracts[name]!.address, abi: abis[name], client: { public: pub, wallet } });
  const rec = new GasRecorder(pub);
  const chainId = await pub.getChainId();
  const later = async (seconds: number) => {
    await testClient.increaseTime({ seconds });
    await testClient.mine({ blocks: 1 });
  };
  const now = async () => (await pub.getBlock()).timestamp;
  const role = (name: string) => keccak256(toHex(name));
  const ONE = 10n ** 18n;

  // ── OpenToken ────────────────────────────────────────────────────────────────────────────────────
  log("OpenToken");
  const token = at("OpenToken");
  for (const w of [opA!, opB!, owner!, c0!, c1!, c2!, outsider!]) {
    await rec.record("OpenToken", "transfer", at("OpenToken", treasury!).write.transfer([w.account.address, 1_000_000n * ONE])); // the supply sits with the treasury
  }
  await rec.record("OpenToken", "approve", at("OpenToken", c2!).write.approve([outsider!.account.address, 10n * ONE]));
  await rec.record("OpenToken", "transferFrom", at("OpenToken", outsider!).write.transferFrom([c2!.account.address, outsider!.account.address, ONE]));
  await rec.record("OpenToken", "burn", at("OpenToken", outsider!).write.burn([ONE]));
  await rec.record("OpenToken", "burnFrom", at("OpenToken", outsider!).write.burnFrom([c2!.account.address, ONE]));
  await rec.record("OpenToken", "faucet", at("OpenToken", outsider!).write.faucet([100n * ONE]));
  {
    const deadline = (await now()) + 3_600n;
    const sig = await signPermit({ token, owner: outsider!, spender: admin!.account.address, value: ONE, deadline, chainId });
    await rec.record("OpenToken", "permit", token.write.permit([outsider!.account.address, admin!.account.address, ONE, deadline, sig.v, sig.r, sig.s]));
  }

  // ── Staking ──────────────────────────────────────────────────────────────────────────────────────
  log("Staking");
  const staking = at("Staking");
  for (const w of [opA!, opB!]) await at("OpenToken", w).write.approve([staking.address, maxUint256]);
  await rec.record("Staking", "stake", at("Staking", opA!).write.stake([5_000n * ONE]));
  await rec.record("Staking", "stake", at("Staking", opA!).write.stake([1_000n * ONE]));
  await rec.record("Staking", "stakeFor", at("Staking", opB!).write.stakeFor([opB!.account.address, 5_000n * ONE]));
  {
    const deadline = (await now()) + 3_600n;
    const sig = await signPermit({ token, owner: c2!, spender: staking.address, value: 100n * ONE, deadline, chainId });
    await rec.record("Staking", "stakeWithPermit", at("Staking", c2!).write.stakeWithPermit([100n * ONE, deadline, sig.v, sig.r, sig.s]));
  }
  await rec.record("Staking", "requestUnbond", at("Staking", c2!).write.requestUnbond([40n * ONE]));
  await later(Number(await staking.read.unbondingDelay()));
  await rec.record("Staking", "withdraw", at("Staking", c2!).write.withdraw());
  await rec.record("Staking", "grantRole", staking.write.grantRole([role("LOCKER_ROLE"), reporter!.account.address]));
  await rec.record("Staking", "grantRole", staking.write.grantRole([role("SLASHER_ROLE"), reporter!.account.address]));
  await rec.record("Staking", "lock", at("Staking", reporter!).write.lock([opB!.account.address, 10n * ONE, zeroHash]));
  await rec.record("Staking", "unlock", at("Staking", reporter!).write.unlock([opB!.account.address, 10n * ONE, zeroHash]));
  await rec.record("Staking", "slash", at("Staking", reporter!).write.slash([opB!.account.address, 50n * ONE, 2, keccak256(toHex("evidence")), outsider!.account.address]));
  await rec.record("Staking", "setUnbondingDelay", staking.write.setUnbondingDelay([7n * 86_400n]));
  await rec.record("Staking", "setSlashParameters", staking.write.setSlashParameters([1_000, 5_000]));
  await rec.record("Staking", "setTreasury", staking.write.setTreasury([treasury!.account.address]));
  await rec.record("Staking", "revokeRole", staking.write.revokeRole([role("LOCKER_ROLE"), reporter!.account.address]));
  await rec.record("Staking", "renounceRole", at("Staking", reporter!).write.renounceRole([role("SLASHER_ROLE"), reporter!.account.address]));

  // ── XnodeRegistry ────────────────────────────────────────────────────────────────────────────────
  log("XnodeRegistry");
  const registry = at("XnodeRegistry");
  const resources = { cpuMillicores: 8_000, memoryMiB: 16_384, storageGiB: 500, gpus: 0 };
  const register = async (w: typeof opA) => {
    const id = nodeIdentity();
    const deadline = (await now()) + 3_600n;
    const signature = await signNodeRegistration({
      nodeKey: id.nodeKey, operator: w!.account.address, nonce: await registry.read.nonces([id.node]), deadline, chainId, registry: registry.address,
    });
    await rec.record("XnodeRegistry", "register", at("XnodeRegistry", w!).write.register([id.publicKey, resources, 8, "ipfs://node", deadline, signature]));
    return id;
  };
  const nodeA = await register(opA);
  const nodeA2 = await register(opA);
  await rec.record("XnodeRegistry", "updateResources", at("XnodeRegistry", opA!).write.updateResources([nodeA.node, { ...resources, gpus: 1 }, 10]));
  await rec.record("XnodeRegistry", "updateMetadata", at("XnodeRegistry", opA!).write.updateMetadata([nodeA.node, "ipfs://node-v2"]));
  await rec.record("XnodeRegistry", "grantRole", registry.write.grantRole([role("JAILER_ROLE"), reporter!.account.address]));
  await rec.record("XnodeRegistry", "jail", at("XnodeRegistry", reporter!).write.jail([nodeA2.node, (await now()) + 600n, keccak256(toHex("missed proof"))]));
  await rec.record("XnodeRegistry", "unjail", at("XnodeRegistry", reporter!).write.unjail([nodeA2.node]));
  await rec.record("XnodeRegistry", "retire", at("XnodeRegistry", opA!).write.retire([nodeA2.node]));
  await rec.record("XnodeRegistry", "setMinNodeStake", registry.write.setMinNodeStake([100n * ONE]));
  await rec.record("XnodeRegistry", "revokeRole", registry.write.revokeRole([role("JAILER_ROLE"), reporter!.account.address]));
  await registry.write.grantRole([role("JAILER_ROLE"), outsider!.account.address]);
  await rec.record("XnodeRegistry", "renounceRole", at("XnodeRegistry", outsider!).write.renounceRole([role("JAILER_ROLE"), outsider!.account.address]));

  // ── ServiceRegistry ──────────────────────────────────────────────────────────────────────────────
  log("ServiceRegistry");
  const services = at("ServiceRegistry", owner!);
  const PERIOD = 30n * 86_400n;
  const params = serviceParams({ name: "echo", pricing: { perCall: 0n, perPeriod: 10n * ONE, periodSeconds: PERIOD, oneTime: 5n * ONE, oneTimeDuration: 7n * 86_400n } });
  const publish = async (p: typeof params) => {
    const before = await services.read.serviceCount();
    await rec.record("ServiceRegistry", "publish", services.write.publish([p]));
    return before + 1n;
  };
  const pubId = await publish(params);
  const privId = await publish({ ...params, name: "private", visibility: Visibility.Private });
  const tmpId = await publish({ ...params, name: "temporary" });
  await rec.record("ServiceRegistry", "update", services.write.update([pubId, { ...params, metadataURI: "ipfs://echo-v2" }]));
  await rec.record("ServiceRegistry", "grant", services.write.grant([privId, c0!.account.address]));
  await rec.record("ServiceRegistry", "grantMany", services.write.grantMany([privId, [c1!.account.address, c2!.account.address, outsider!.account.address]]));
  await rec.record("ServiceRegistry", "revoke", services.write.revoke([privId, outsider!.account.address]));
  await rec.record("ServiceRegistry", "revokeMany", services.write.revokeMany([privId, [c2!.account.address]]));
  const tree = buildAllowlist([c2!.account.address, outsider!.account.address, admin!.account.address]);
  await rec.record("ServiceRegistry", "setAllowlistRoot", services.write.setAllowlistRoot([privId, tree.root]));
  await rec.record("ServiceRegistry", "transferServiceOwnership", services.write.transferServiceOwnership([tmpId, outsider!.account.address]));
  await rec.record("ServiceRegistry", "retire", at("ServiceRegistry", outsider!).write.retire([tmpId]));

  // ── Subscriptions ────────────────────────────────────────────────────────────────────────────────
  log("Subscriptions");
  const subs = at("Subscriptions");
  for (const w of [c0!, c1!]) await at("OpenToken", w).write.approve([subs.address, maxUint256]);
  await rec.record("Subscriptions", "subscribe", at("Subscriptions", c0!).write.subscribe([pubId, 3, 10n * ONE, []]));
  await rec.record("Subscriptions", "subscribe", at("Subscriptions", c1!).write.subscribe([privId, 1, 10n * ONE, []]));
  await rec.record("Subscriptions", "subscribeOnce", at("Subscriptions", c1!).write.subscribeOnce([pubId, 5n * ONE, []]));
  {
    const deadline = (await now()) + 3_600n;
    const s1 = await signPermit({ token, owner: c2!, spender: subs.address, value: 20n * ONE, deadline, chainId });
    await rec.record("Subscriptions", "subscribeWithPermit", at("Subscriptions", c2!).write.subscribeWithPermit([privId, 2, 10n * ONE, tree.proofOf(c2!.account.address), { value: 20n * ONE, deadline, ...s1 }]));
    const s2 = await signPermit({ token, owner: outsider!, spender: subs.address, value: 5n * ONE, deadline, chainId });
    await rec.record("Subscriptions", "subscribeOnceWithPermit", at("Subscriptions", outsider!).write.subscribeOnceWithPermit([pubId, 5n * ONE, [], { value: 5n * ONE, deadline, ...s2 }]));
  }
  await later(10 * 86_400);
  await rec.record("Subscriptions", "settle", subs.write.settle([pubId, c0!.account.address]));
  await rec.record("Subscriptions", "renew", at("Subscriptions", c0!).write.renew([pubId, 1, 10n * ONE, []]));
  await later(86_400);
  await rec.record("Subscriptions", "settleMany", subs.write.settleMany([privId, [c1!.account.address, c2!.account.address]]));
  await rec.record("Subscriptions", "cancel", at("Subscriptions", c0!).write.cancel([pubId]));
  await rec.record("Subscriptions", "setProtocolFee", subs.write.setProtocolFee([300]));
  await rec.record("Subscriptions", "setTreasury", subs.write.setTreasury([treasury!.account.address]));
  await rec.record("Subscriptions", "grantRole", subs.write.grantRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));
  await rec.record("Subscriptions", "revokeRole", subs.write.revokeRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));
  await subs.write.grantRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]);
  await rec.record("Subscriptions", "renounceRole", at("Subscriptions", outsider!).write.renounceRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));

  // ── LeaseEscrow ──────────────────────────────────────────────────────────────────────────────────
  log("LeaseEscrow");
  const leases = at("LeaseEscrow");
  const lessee = c0!;
  await at("OpenToken", lessee).write.approve([leases.address, maxUint256]);
  const price = 10n ** 15n; // 0.001 OPEN per second
  const postOffer = async () => {
    const before = await leases.read.offerCount();
    await rec.record("LeaseEscrow", "postOffer", at("LeaseEscrow", opA!).write.postOffer([nodeA.node, { cpuMillicores: 2_000, memoryMiB: 4_096, storageGiB: 50, gpus: 0 }, price, 3_600n, 30n * 86_400n, 600n, 4]));
    return before + 1n;
  };
  const offerId = await postOffer();
  const spare = await postOffer();
  await rec.record("LeaseEscrow", "updateOffer", at("LeaseEscrow", opA!).write.updateOffer([spare, { cpuMillicores: 1_000, memoryMiB: 2_048, storageGiB: 20, gpus: 0 }, price * 2n, 3_600n, 7n * 86_400n, 600n, 2]));
  await rec.record("LeaseEscrow", "setOfferActive", at("LeaseEscrow", opA!).write.setOfferActive([spare, false]));
  const open = async () => {
    const before = await leases.read.leaseCount();
    await rec.record("LeaseEscrow", "openLease", at("LeaseEscrow", lessee).write.openLease([offerId, price * 86_400n, price]));
    return before + 1n;
  };
  const l1 = await open();
  const l2 = await open();
  await open(); // stays active: the failure hook below terminates it
  await later(3_600);
  await rec.record("LeaseEscrow", "settle", leases.write.settle([l1]));
  await rec.record("LeaseEscrow", "topUp", at("LeaseEscrow", lessee).write.topUp([l1, price * 3_600n]));
  await rec.record("LeaseEscrow", "close", at("LeaseEscrow", lessee).write.close([l2]));
  await later(2 * 86_400);
  await rec.record("LeaseEscrow", "settle", leases.write.settle([l2])); // natural end after the notice window
  await rec.record("LeaseEscrow", "grantRole", leases.write.grantRole([role("RESOURCE_REPORTER_ROLE"), reporter!.account.address]));
  await open(); // a second lease on the failing node
  await later(600);
  await rec.record("LeaseEscrow", "reportResourceFailure", at("LeaseEscrow", reporter!).write.reportResourceFailure([nodeA.node, (await now()) - 300n, keccak256(toHex("failed proof"))]));
  await rec.record("LeaseEscrow", "setProtocolFee", leases.write.setProtocolFee([300]));
  await rec.record("LeaseEscrow", "setTreasury", leases.write.setTreasury([treasury!.account.address]));
  await rec.record("LeaseEscrow", "revokeRole", leases.write.revokeRole([role("RESOURCE_REPORTER_ROLE"), reporter!.account.address]));
  await leases.write.grantRole([role("RESOURCE_REPORTER_ROLE"), outsider!.account.address]);
  await rec.record("LeaseEscrow", "renounceRole", at("LeaseEscrow", outsider!).write.renounceRole([role("RESOURCE_REPORTER_ROLE"), outsider!.account.address]));

  // ── TaskManager ──────────────────────────────────────────────────────────────────────────────────
  log("TaskManager");
  const tasks = at("TaskManager");
  const wait = async (tx: Promise<`0x${string}`>) => pub.waitForTransactionReceipt({ hash: await tx });
  const nodeKeys = new Map<string, `0x${string}`>([[nodeA.node.toLowerCase(), nodeA.nodeKey]]);
  for (const w of [opA!, opB!]) {
    await wait(at("OpenToken", w).write.approve([at("Staking").address, maxUint256]));
    await wait(at("Staking", w).write.stake([20_000n * ONE]));
  }
  for (let i = 0; i < 6; i++) {
    const w = i % 2 === 0 ? opA! : opB!;
    const id = nodeIdentity(keccak256(toHex(`gas report task node ${i}`)));
    const deadline = (await now()) + 3_600n;
    const signature = await signNodeRegistration({
      nodeKey: id.nodeKey, operator: w.account.address, nonce: await registry.read.nonces([id.node]), deadline, chainId, registry: registry.address,
    });
    await wait(at("XnodeRegistry", w).write.register([id.publicKey, resources, 4, "", deadline, signature]));
    nodeKeys.set(id.node.toLowerCase(), id.nodeKey);
  }
  await wait(at("OpenToken", c2!).write.approve([tasks.address, maxUint256]));
  const taskDomain = { name: "DSMP TaskManager", version: "1", chainId, verifyingContract: tasks.address } as const;
  const taskTypes = {
    Commit: [{ name: "taskId", type: "uint256" }, { name: "worker", type: "address" }, { name: "seal", type: "bytes32" }],
    Result: [{ name: "taskId", type: "uint256" }, { name: "resultHash", type: "bytes32" }, { name: "participants", type: "uint256" }],
  } as const;
  const keyOf = (node: string) => privateKeyToAccount(nodeKeys.get(node.toLowerCase())!);
  const signResult = (node: string, taskId: bigint, resultHash: `0x${string}`, participants: bigint) =>
    keyOf(node).signTypedData({ domain: taskDomain, types: taskTypes, primaryType: "Result", message: { taskId, resultHash, participants } });
  const signCommit = (node: string, taskId: bigint, seal: `0x${string}`) =>
    keyOf(node).signTypedData({ domain: taskDomain, types: taskTypes, primaryType: "Commit", message: { taskId, worker: keyOf(node).address, seal } });
  const newTask = async (n: number, q: number, windows: number, finalIn: bigint) => {
    const t = await now();
    const spec = {
      moduleHash: keccak256(toHex("module")), inputHash: keccak256(toHex(`input ${t}`)), inputURI: "",
      resources: { cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 1, gpus: 0 },
      n, q, reward: 10n * ONE, commitWindow: windows, revealWindow: windows, finalDeadline: Number(t + finalIn),
    };
    const receipt = await pub.waitForTransactionReceipt({ hash: await at("TaskManager", c2!).write.createTask([spec]) });
    if (receipt.status !== "success") throw new Error("createTask reverted");
    const gasUsed = receipt.gasUsed;
    const s0 = rec.stats.get("TaskManager.createTask") ?? { calls: 0, min: gasUsed, max: gasUsed, total: 0n };
    rec.stats.set("TaskManager.createTask", { calls: s0.calls + 1, total: s0.total + gasUsed, min: gasUsed < s0.min ? gasUsed : s0.min, max: gasUsed > s0.max ? gasUsed : s0.max });
    return parseEventLogs({ abi: abis.TaskManager, logs: receipt.logs, eventName: "TaskCreated" })[0]!.args.taskId;
  };
  const GOOD = keccak256(toHex("good output"));
  const BAD = keccak256(toHex("bad output"));
  const t1 = await newTask(4, 3, 600, 86_400n);
  await testClient.mine({ blocks: 1 });
  await rec.record("TaskManager", "assign", tasks.write.assign([t1]));
  const committee = await tasks.read.committeeOf([t1]);
  const seal = (node: string, result: `0x${string}`, salt: string) =>
    keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }], [t1, node as Address, result, keccak256(toHex(salt))]));
  const seal0 = seal(committee[0]!, GOOD, "s0");
  await rec.record("TaskManager", "anchorCommit", tasks.write.anchorCommit([t1, 0, seal0, await signCommit(committee[0]!, t1, seal0)]));
  const liar = committee[3]!;
  const sealA = seal(liar, GOOD, "a");
  const sealB = seal(liar, BAD, "b");
  await rec.record("TaskManager", "proveCommitEquivocation", at("TaskManager", reporter!).write.proveCommitEquivocation([
    t1, liar, sealA, await signCommit(liar, t1, sealA), sealB, await signCommit(liar, t1, sealB),
  ]));
  const liarBad = await signResult(liar, t1, BAD, 8n);
  // Slot 2 signs the good result and, equivocating, a bad one (commit and result equivocation share one reason).
  await rec.record("TaskManager", "proveResultEquivocation", at("TaskManager", reporter!).write.proveResultEquivocation([
    t1, GOOD, 7n, await signResult(committee[2]!, t1, GOOD, 7n), BAD, 4n, await signResult(committee[2]!, t1, BAD, 4n),
  ]));
  const sigs = await Promise.all([0, 1, 2].map((i) => signResult(committee[i]!, t1, GOOD, 7n)));
  await rec.record("TaskManager", "reportResult", tasks.write.reportResult([t1, GOOD, 7n, sigs]));
  await rec.record("TaskManager", "proveWrongResult", at("TaskManager", reporter!).write.proveWrongResult([t1, BAD, 8n, liarBad]));
  // A task whose committee stays silent: reallocated once, then refunded after its final deadline.
  const t2 = await newTask(2, 2, 60, 1_000n);
  await testClient.mine({ blocks: 1 });
  await rec.record("TaskManager", "assign", tasks.write.assign([t2]));
  await later(121);
  await rec.record("TaskManager", "reallocate", tasks.write.reallocate([t2]));
  await testClient.mine({ blocks: 1 });
  await rec.record("TaskManager", "assign", tasks.write.assign([t2]));
  await later(1_000);
  await rec.record("TaskManager", "claim", at("TaskManager", c2!).write.claim([t2]));
  for (const w of [opA!, opB!]) {
    if ((await tasks.read.rewardsOf([w.account.address])) > 0n) {
      await rec.record("TaskManager", "withdrawRewards", at("TaskManager", w).write.withdrawRewards());
    }
  }
  await rec.record("TaskManager", "withdrawFees", tasks.write.withdrawFees());
  await rec.record("TaskManager", "depositCollateral", at("TaskManager", opA!).write.depositCollateral([50n * ONE]));
  await rec.record("TaskManager", "releaseCollateral", at("TaskManager", opA!).write.releaseCollateral());
  await rec.record("TaskManager", "setProtocolFee", tasks.write.setProtocolFee([300]));
  await rec.record("TaskManager", "setTreasury", tasks.write.setTreasury([treasury!.account.address]));
  await rec.record("TaskManager", "grantRole", tasks.write.grantRole([role("TASK_OBSERVER_ROLE"), reporter!.account.address]));
  await rec.record("TaskManager", "revokeRole", tasks.write.revokeRole([role("TASK_OBSERVER_ROLE"), reporter!.account.address]));
  await tasks.write.grantRole([role("TASK_OBSERVER_ROLE"), outsider!.account.address]);
  await rec.record("TaskManager", "renounceRole", at("TaskManager", outsider!).write.renounceRole([role("TASK_OBSERVER_ROLE"), outsider!.account.address]));

  // ── UsageEscrow ──────────────────────────────────────────────────────────────────────────────────
  log("UsageEscrow");
  const usage = at("UsageEscrow");
  const perCall = 10n ** 15n; // 0.001 OPEN
  await wait(services.write.publish([serviceParams({ name: "metered", pricing: { perCall, perPeriod: 0n, periodSeconds: 0n } })]));
  const meteredId = await services.read.serviceCount();
  // A fresh node of a fresh operator (the task section may have slashed opA / opB below their locked stake).
  await wait(at("OpenToken", outsider!).write.approve([staking.address, maxUint256]));
  await wait(at("Staking", outsider!).write.stake([1_000n * ONE]));
  const server = nodeIdentity(keccak256(toHex("gas report usage node")));
  {
    const deadline = (await now()) + 3_600n;
    const signature = await signNodeRegistration({
      nodeKey: server.nodeKey, operator: outsider!.account.address, nonce: await registry.read.nonces([server.node]), deadline, chainId, registry: registry.address,
    });
    await wait(at("XnodeRegistry", outsider!).write.register([server.publicKey, resources, 4, "", deadline, signature]));
  }
  await testClient.setBalance({ address: server.node, value: parseEther("10") });
  const serverWallet = createWalletClient({ chain, transport, account: privateKeyToAccount(server.nodeKey) });
  const consumerIndex = new Map([[c0!, 5], [c1!, 6], [c2!, 7]]);
  for (const w of [c0!, c1!, c2!]) await wait(at("OpenToken", w).write.approve([usage.address, maxUint256]));
  await rec.record("UsageEscrow", "deposit", at("UsageEscrow", c0!).write.deposit([meteredId, 200n * perCall, perCall]));
  await rec.record("UsageEscrow", "deposit", at("UsageEscrow", c0!).write.deposit([meteredId, 0n, perCall])); // re-agree only
  await rec.record("UsageEscrow", "depositFor", at("UsageEscrow", c1!).write.depositFor([meteredId, c2!.account.address, 20n * perCall, perCall]));
  {
    await wait(at("OpenToken", c1!).write.approve([usage.address, 0n]));
    const deadline = (await now()) + 3_600n;
    const sig = await signPermit({ token, owner: c1!, spender: usage.address, value: 20n * perCall, deadline, chainId });
    await rec.record("UsageEscrow", "depositWithPermit", at("UsageEscrow", c1!).write.depositWithPermit([meteredId, 20n * perCall, perCall, { value: 20n * perCall, deadline, ...sig }]));
  }
  const registryAddress = deployment.contracts.ServiceRegistry!.address;
  const signUsage = async (w: typeof c0) => {
    const t = await signAccessToken({
      account: devAccount(consumerIndex.get(w!)!),
      domain: { chainId, registry: registryAddress },
      serviceId: meteredId,
      provider: serverWallet.account.address,
      expiry: Number(await now()) + 60,
      nonce: randomNonce(),
    });
    return { consumer: t.consumer, expiry: BigInt(t.expiry), nonce: t.nonce, signature: t.signature };
  };
  const claimRows: string[] = [];
  const claimBatch = async (label: string, consumers: (typeof c0)[]) => {
    const calls = await Promise.all(consumers.map(signUsage));
    const gas = await rec.record("UsageEscrow", "claim", getContract({ address: usage.address, abi: abis.UsageEscrow, client: { public: pub, wallet: serverWallet } }).write.claim([meteredId, calls]));
    claimRows.push(`| ${calls.length} | ${label} | ${gas} | ${gas / BigInt(calls.length)} |`);
    return gas;
  };
  const one = await claimBatch("one consumer", [c0!]);
  const sixteen = await claimBatch("one consumer", Array.from({ length: 16 }, () => c0!));
  const hundred = await claimBatch("one consumer", Array.from({ length: 100 }, () => c0!));
  await claimBatch("three consumers, interleaved", Array.from({ length: 16 }, (_, i) => [c0!, c1!, c2!][i % 3]!));
  const usagePerCall = (hundred - one) / 99n;
  await rec.record("UsageEscrow", "requestWithdrawal", at("UsageEscrow", c2!).write.requestWithdrawal([meteredId, 5n * perCall]));
  await rec.record("UsageEscrow", "cancelWithdrawal", at("UsageEscrow", c2!).write.cancelWithdrawal([meteredId]));
  await rec.record("UsageEscrow", "requestWithdrawal", at("UsageEscrow", c2!).write.requestWithdrawal([meteredId, 5n * perCall]));
  await later(Number(await usage.read.withdrawalDelay()));
  await rec.record("UsageEscrow", "withdraw", at("UsageEscrow", c2!).write.withdraw([meteredId]));
  await rec.record("UsageEscrow", "setProtocolFee", usage.write.setProtocolFee([300]));
  await rec.record("UsageEscrow", "setTreasury", usage.write.setTreasury([treasury!.account.address]));
  await rec.record("UsageEscrow", "grantRole", usage.write.grantRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));
  await rec.record("UsageEscrow", "revokeRole", usage.write.revokeRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));
  await usage.write.grantRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]);
  await rec.record("UsageEscrow", "renounceRole", at("UsageEscrow", outsider!).write.renounceRole([zeroHash /* DEFAULT_ADMIN_ROLE */, outsider!.account.address]));
  log(`UsageEscrow.claim: 1 call ${one}, 16 calls ${sixteen}, 100 calls ${hundred} → ${usagePerCall} per additional call`);

  // ── Report ───────────────────────────────────────────────────────────────────────────────────────
  const missing = Object.keys(deployment.contracts)
    .flatMap((name) => rec.missing(name, abis[name as keyof typeof abis] as Abi).map((fn) => `${name}.${fn}`))
    .filter((fn) => !(fn in NOT_REACHABLE));
  const deployments = Object.entries(deployment.contracts)
    .map(([name, c]) => `| ${name} | ${c.address} |`)
    .join("\n");
  const unreachable = Object.keys(NOT_REACHABLE).length
    ? `\nNot measured here (unreachable with OPEN; exercised by the contract tests):\n${Object.entries(NOT_REACHABLE)
        .map(([fn, why]) => `- \`${fn}\`: ${why}`)
        .join("\n")}\n`
    : "";
  const md = `# Gas

Measured by \`npm run gas\` (scripts/gas-report.ts): the real deploy script on a fresh \`hardhat node\`
(solc 0.8.28, optimizer 200 runs, cancun), then every state-changing external function of every contract
called with realistic arguments. Figures are \`gasUsed\` of the mined transactions (intrinsic 21 000 and
calldata included). Generated ${new Date().toISOString().slice(0, 10)}; do not edit by hand.

${rec.table()}

Per-call settlement (\`UsageEscrow.claim\`, one transaction per batch of access tokens; the first call of a
batch carries the fixed part: service and stake reads, the fee and operator transfers):

| calls | consumers | gasUsed | per call |
| ---: | --- | ---: | ---: |
${claimRows.join("\n")}

Each additional call costs ≈ ${usagePerCall} gas (one consumer; ≈ 5 k more per call when every call is a different
consumer's escrow, see contracts/test/UsageEscrow.gas.test.ts).

Contracts measured:

| contract | address on the report chain |
| --- | --- |
${deployments}
${unreachable}${missing.length ? `\n**Not measured:** ${missing.join(", ")}\n` : ""}`;
  writeFileSync(values.out!, md);
  log(`wrote ${values.out} (${rec.stats.size} functions)`);
  if (missing.length) {
    console.error(`gas: not measured: ${missing.join(", ")}`);
    process.exitCode = 1;
  }
} finally {
  await node.stop();
}
