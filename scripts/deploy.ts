/**
 * Deploy DSMP to any EVM chain:
 *   node scripts/deploy.ts --rpc-url http://127.0.0.1:8545 [--private-key 0x…] [--treasury 0x…] [--token 0x…]
 *                          [--min-node-stake 100] [--fee-bps 250] [--withdrawal-delay 86400]
 *                          [--claim-window 604800] [--out deployments] [--json]
 * The key may come from DSMP_DEPLOYER_KEY instead of the command line. Re-running is idempotent.
 */
import { parseArgs } from "node:util";
import { isAddress, isHex, parseEther, type Address, type Hex } from "viem";
import { deploy } from "./lib/deploy.ts";
import { DEV_CHAIN_ID, devPrivateKey } from "./lib/dev-accounts.ts";

const usage = `usage: node scripts/deploy.ts --rpc-url URL [options]

  --rpc-url URL          JSON-RPC endpoint (env DSMP_RPC_URL)
  --private-key HEX      deployer key, becomes admin (env DSMP_DEPLOYER_KEY; on a local
                         chain 31337 defaults to Hardhat's first development account)
  --treasury ADDR        fee / slash treasury (default: the deployer)
  --token ADDR           use an existing OPEN token instead of deploying OpenToken
  --min-node-stake OPEN  stake bonded per registered Xnode (default 100)
  --fee-bps N            protocol fee in basis points (default 250)
  --withdrawal-delay S   UsageEscrow: seconds from a withdrawal request to the withdrawal
                         (default 86400; 3600 on the local chain 31337)
  --claim-window S       UsageEscrow: seconds an access token stays claimable after its
                         expiry (default 604800 = 7 days)
  --out DIR              where <chainId>.json is written (default deployments/)
  --json                 print the deployment as JSON
  -h, --help             this text`;

const { values } = parseArgs({
  options: {
    "rpc-url": { type: "string" },
    "private-key": { type: "string" },
    treasury: { type: "string" },
    token: { type: "string" },
    "min-node-stake": { type: "string" },
    "fee-bps": { type: "string" },
    "withdrawal-delay": { type: "string" },
    "claim-window": { type: "string" },
    out: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

function fail(message: string): never {
  console.error(`deploy: ${message}\n\n${usage}`);
  process.exit(2);
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}
const rpcUrl = values["rpc-url"] ?? process.env.DSMP_RPC_URL;
if (!rpcUrl) fail("--rpc-url is required");
let key = values["private-key"] ?? process.env.DSMP_DEPLOYER_KEY;
if (!key) {
  const { createPublicClient, http } = await import("viem");
  const chainId = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  if (chainId !== DEV_CHAIN_ID) fail(`chain ${chainId} is not a local Hardhat chain: pass --private-key or DSMP_DEPLOYER_KEY`);
  key = devPrivateKey(0);
}
if (!isHex(key) || key.length !== 66) fail("--private-key must be 32 bytes of hex (0x + 64 chars)");
for (const flag of ["treasury", "token"] as const) {
  const v = values[flag];
  if (v !== undefined && !isAddress(v)) fail(`--${flag} is not an address: ${v}`);
}
const feeBps = values["fee-bps"] === undefined ? undefined : Number(values["fee-bps"]);
if (feeBps !== undefined && !(Number.isInteger(feeBps) && feeBps >= 0 && feeBps <= 1000)) {
  fail("--fee-bps must be an integer in [0, 1000]");
}

/** A whole number of seconds that fits a uint64, or undefined when the flag is absent. */
function seconds(flag: "withdrawal-delay" | "claim-window"): bigint | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(v) || BigInt(v) >= 2n ** 64n) fail(`--${flag} must be a whole number of seconds: ${v}`);
  return BigInt(v);
}
const usageWithdrawalDelay = seconds("withdrawal-delay");
const usageClaimWindow = seconds("claim-window");

try {
  const deployment = await deploy({
    rpcUrl,
    privateKey: key as Hex,
    treasury: values.treasury as Address | undefined,
    token: values.token as Address | undefined,
    minNodeStake: values["min-node-stake"] === undefined ? undefined : parseEther(values["min-node-stake"]),
    protocolFeeBps: feeBps,
    usageWithdrawalDelay,
    usageClaimWindow,
    outDir: values.out,
    log: values.json ? undefined : (line) => console.error(`deploy: ${line}`),
  });
  if (values.json) console.log(JSON.stringify(deployment, null, 2));
  else for (const [name, c] of Object.entries(deployment.contracts)) console.log(`${name.padEnd(16)} ${c.address}`);
} catch (err) {
  console.error(`deploy: ${(err as Error).message}`);
  process.exit(1);
}
