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
  maxUint256,
  parseEther,
  toHex,
  zeroHash,
  type Abi,
  type Address,
} from "viem";
import { hardhat } from "viem/chains";
import { abis } from "../contracts/index.ts";
import { nodeIdentity, signNodeRegistration } from "../contracts/test/staking.fixture.ts";
import { buildAllowlist, serviceParams, Visibility } from "../contracts/test/services.fixture.ts";
import { signPermit } from "../contracts/test/permit.ts";
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
