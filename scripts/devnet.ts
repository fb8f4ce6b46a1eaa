/**
 * Local devnet: a Hardhat chain on 127.0.0.1, every DSMP contract deployed and wired, development accounts
 * funded with OPEN, N Xnodes (default 4) registered and staked, the demo services (`echo` public and free,
 * `paid`, `private`) announced in the DHT, the web UI served by node 0 (when `web/dist` is built), and
 * `devnet.json` describing it all. Ctrl-C stops everything.
 */
import { existsSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createPublicClient, createWalletClient, formatEther, http, parseEther, type Address } from "viem";
import { hardhat } from "viem/chains";
import { abis } from "../contracts/index.ts";
import { deploy } from "./lib/deploy.ts";
import { DEV_MNEMONIC, devAccount, devPrivateKey } from "./lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetXnodes } from "./lib/devnet-xnodes.ts";
import { startHardhatNode } from "./lib/hardhat-node.ts";
import { DEFAULT_DEPLOYMENTS_DIR } from "./lib/deploy.ts";

const usage = `usage: npm run devnet -- [options]

  --port N       JSON-RPC port of the chain (default 8545)
  --nodes N      Xnodes to start (default 4; node i uses ports 4660+10i … 4663+10i)
  --accounts N   development accounts funded with OPEN (default 10)
  --fund OPEN    OPEN per account (default 100000)
  --out FILE     where the devnet description is written (default devnet.json)
  --json         print devnet.json instead of a table
  -h, --help     this text`;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8545" },
    nodes: { type: "string", default: "4" },
    accounts: { type: "string", default: "10" },
    fund: { type: "string", default: "100000" },
    out: { type: "string", default: "devnet.json" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const port = Number(values.port);
const accountCount = Number(values.accounts);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`devnet: --port must be a TCP port\n\n${usage}`);
  process.exit(2);
}
if (!Number.isInteger(accountCount) || accountCount < 1 || accountCount > 20) {
  console.error(`devnet: --accounts must be in [1, 20] (Hardhat has 20 development accounts)\n\n${usage}`);
  process.exit(2);
}
const nodeCount = Number(values.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) {
  console.error(`devnet: --nodes must be in [1, 16]\n\n${usage}`);
  process.exit(2);
}
if (accountCount < nodeCount + 3) {
  console.error(`devnet: --accounts must be at least --nodes + 3 (operators, a service owner and an allow-listed consumer)\n\n${usage}`);
  process.exit(2);
}
const progress = (line: string) => console.error(`devnet: ${line}`);

progress(`starting a Hardhat chain on 127.0.0.1:${port}`);
const node = await startHardhatNode({ port }).catch((err: Error) => {
  console.error(`devnet: ${err.message.split("\n")[0]} — is port ${port} taken? try --port`);
  process.exit(1);
});
let stopping = false;
let xnodes: DevnetXnodes | undefined;
async function stop(code: number) {
  if (stopping) process.exit(code); // second signal: force
  stopping = true;
  progress("stopping");
  await xnodes?.stop();
  await node.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  const accounts = Array.from({ length: accountCount }, (_, i) => devAccount(i));
  const deployer = accounts[0]!;
  const deployment = await deploy({ rpcUrl: node.rpcUrl, privateKey: devPrivateKey(0), log: progress });
  const token = deployment.contracts.OpenToken!.address;
  const chain = { ...hardhat, rpcUrls: { default: { http: [node.rpcUrl] } } };
  const publicClient = createPublicClient({ chain, transport: http(node.rpcUrl) });
  const wallet = createWalletClient({ chain, account: deployer, transport: http(node.rpcUrl) });
  const amount = parseEther(values.fund);
  for (const a of accounts.slice(1)) {
    const hash = await wallet.writeContract({ address: token, abi: abis.OpenToken, functionName: "transfer", args: [a.address, amount] });
    await publicClient.waitForTransactionReceipt({ hash });
  }
  progress(`funded ${accounts.length - 1} accounts with ${values.fund} OPEN each`);

  const webDir = existsSync("web/dist/index.html") ? "web/dist" : undefined;
  if (webDir === undefined) progress("web/dist is not built (`npm run build`): the devnet runs without the web UI");
  progress(`starting ${nodeCount} Xnodes`);
  xnodes = await startDevnetXnodes({
    rpcUrl: node.rpcUrl,
    deployment,
    deploymentsFile: `${DEFAULT_DEPLOYMENTS_DIR}/${deployment.chainId}.json`,
    count: nodeCount,
    rootDir: ".devnet",
    progress,
    webDir,
  });

  const description = {
    rpcUrl: node.rpcUrl,
    chainId: deployment.chainId,
    contracts: Object.fromEntries(Object.entries(deployment.contracts).map(([k, v]) => [k, v.address])),
    accounts: await Promise.all(
      accounts.map(async (a) => ({
        address: a.address as Address,
        open: formatEther(
          await publicClient.readContract({ address: token, abi: abis.OpenToken, functionName: "balanceOf", args: [a.address] }),
        ),
      })),
    ),
    mnemonic: DEV_MNEMONIC,
    webUrl: webDir === undefined ? null : `${xnodes.nodes[0]!.apiUrl}/`,
    nodes: xnodes.nodes.map((n) => {
      const st = n.status();
      return { address: st.address, peerId: st.peerId, multiaddrs: st.multiaddrs, apiUrl: st.apiUrl, gatewayUrl: st.gatewayUrl, metricsUrl: st.metricsUrl };
    }),
    services: xnodes.services.map((sv) => ({ id: sv.id.toString(), name: sv.name, visibility: sv.visibility, providers: sv.providers })),
  };
  writeFileSync(values.out, JSON.stringify(description, null, 2) + "\n");
  if (values.json) console.log(JSON.stringify(description, null, 2));
  else {
    console.log(`\nDSMP devnet — chain ${description.chainId} at ${description.rpcUrl}\n`);
    for (const [name, address] of Object.entries(description.contracts)) console.log(`  ${name.padEnd(16)} ${address}`);
    console.log(`\n  node  address                                     gateway                 api`);
    for (const [i, n] of description.nodes.entries()) console.log(`  ${String(i).padEnd(4)}  ${n.address}  ${n.gatewayUrl.padEnd(22)}  ${n.apiUrl}`);
    console.log(`\n  service  name     visibility  providers`);
    for (const sv of description.services) console.log(`  ${sv.id.padEnd(7)}  ${sv.name.padEnd(7)}  ${sv.visibility.padEnd(10)}  nodes ${sv.providers.join(", ")}`);
    const echo = description.services.find((sv) => sv.name === "echo");
    console.log(`\n  ${accounts.length} development accounts (mnemonic: "${DEV_MNEMONIC}"), e.g. ${accounts[1]?.address ?? deployer.address}`);
    // #0 deploys, #1…#n operate the nodes, #n+1 owns the demo services, #n+2 is the private one's allow-listed consumer.
    const free = description.nodes.length + 3;
    if (free < accounts.length) console.log(`  a free consumer account (#${free}): export DSMP_PRIVATE_KEY=${devPrivateKey(free)}`);
    console.log(`  wrote ${values.out}`);
    console.log(
      description.webUrl === null
        ? `  web UI: not built — run \`npm run build\` and restart the devnet`
        : `  web UI: ${description.webUrl}  (connect a wallet on chain ${description.chainId}, or use the dev burner account)`,
    );
    if (echo) console.log(`\n  try:  npx dsmp call ${echo.id} hello --data hi --gateway ${description.nodes.at(-1)!.gatewayUrl}`);
    console.log(`\nCtrl-C stops the devnet.`);
  }
} catch (err) {
  console.error(`devnet: ${(err as Error).message}`);
  await stop(1);
}
