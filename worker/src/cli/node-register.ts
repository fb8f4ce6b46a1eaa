/**
 * `dsmp node register` (bond a node key to the signing operator) and `dsmp node info <address>`.
 * `dsmp node start|status` (the daemon) plug into the command table beside these.
 */
import { base58btc } from "multiformats/bases/base58";
import { hexToBytes } from "viem";
import { getNode } from "../chain/actions/get-node.ts";
import { registerNode } from "../chain/actions/register-node.ts";
import { updateNodeResources } from "../chain/actions/update-node-resources.ts";
import { CliNotFoundError, CliUsageError, KeystoreNotFoundError } from "../errors.ts";
import { DEFAULT_PASSPHRASE_ENV } from "../config.ts";
import { createKeystore, loadKeystore } from "../identity/keystore.ts";
import { connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, GlobalOptions } from "./command-spec.ts";
import { printFields, printJson, printLine } from "./output.ts";
import { tokenAmount, utcTime } from "./transaction-output.ts";
import { parseAddress, parseInteger } from "./value-parsers.ts";

const UINT32_MAX = 2 ** 32 - 1;
const UINT16_MAX = 2 ** 16 - 1;

export interface NodeRegisterOptions extends GlobalOptions {
  /** Keystore file of the node key (created by the node on first start, or by `createKeystore`). */
  keystore: string;
  /** Passphrase of an encrypted keystore (read from the environment, never from a flag). */
  passphrase: string | undefined;
  cpu: string;
  memory: string;
  storage: string;
  gpus: string;
  slots: string;
  metadata: string | undefined;
}

/** `dsmp node register`: prove possession of the node key and register the node under the signing operator. */
export async function nodeRegisterCommand(options: NodeRegisterOptions, io: CliIo): Promise<void> {
  const resources = {
    cpuMillicores: parseInteger(options.cpu, "--cpu", { min: 1, max: UINT32_MAX }),
    memoryMiB: parseInteger(options.memory, "--memory", { min: 1, max: UINT32_MAX }),
    storageGiB: parseInteger(options.storage, "--storage", { max: UINT32_MAX }),
    gpus: parseInteger(options.gpus, "--gpus", { max: UINT16_MAX }),
  };
  const slots = parseInteger(options.slots, "--slots", { min: 1, max: UINT32_MAX });
  const { identity } = await loadKeystore(options.keystore, { passphrase: options.passphrase }).catch((error: unknown) => {
    if (error instanceof KeystoreNotFoundError) {
      throw new CliNotFoundError(`no keystore at ${options.keystore}: create one with \`dsmp node keygen --keystore ${options.keystore}\` (or \`dsmp node start\` creates <data-dir>/node-key.json)`, { cause: error });
    }
    throw error;
  });
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const result = await registerNode(client, { node: identity, resources, slots, metadataURI: options.metadata, signal: io.signal });
  const peerId = identity.peerId.toString();
  const operator = client.wallet!.account.address;
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, node: result.node, peerId, operator, bond: result.bond });
    return;
  }
  printLine(io, `registered node ${result.node} (peer ${peerId}) for operator ${operator}: bond ${tokenAmount(client, result.bond)} locked (tx ${result.hash})`);
}

export interface NodeUpdateOptions extends GlobalOptions {
  node: string;
  cpu: string | undefined;
  memory: string | undefined;
  storage: string | undefined;
  gpus: string | undefined;
  slots: string | undefined;
}

/** `dsmp node update <address>`: change what a node advertises; fields not given keep their on-chain value. */
export async function nodeUpdateCommand(options: NodeUpdateOptions, io: CliIo): Promise<void> {
  const node = parseAddress(options.node, "<address>");
  const given = [options.cpu, options.memory, options.storage, options.gpus, options.slots];
  if (given.every((value) => value === undefined)) throw new CliUsageError("nothing to update: give at least one of --cpu, --memory, --storage, --gpus, --slots");
  const cpu = options.cpu === undefined ? undefined : parseInteger(options.cpu, "--cpu", { min: 1, max: UINT32_MAX });
  const memory = options.memory === undefined ? undefined : parseInteger(options.memory, "--memory", { min: 1, max: UINT32_MAX });
  const storage = options.storage === undefined ? undefined : parseInteger(options.storage, "--storage", { max: UINT32_MAX });
  const gpus = options.gpus === undefined ? undefined : parseInteger(options.gpus, "--gpus", { max: UINT16_MAX });
  const slots = options.slots === undefined ? undefined : parseInteger(options.slots, "--slots", { min: 1, max: UINT32_MAX });
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const record = await getNode(client, { node });
  if (record.status === "none") throw new CliUsageError(`node ${node} is not registered; register it first with \`dsmp node register\``);
  const resources = {
    cpuMillicores: cpu ?? record.resources.cpuMillicores,
    memoryMiB: memory ?? record.resources.memoryMiB,
    storageGiB: storage ?? record.resources.storageGiB,
    gpus: gpus ?? record.resources.gpus,
  };
  const result = await updateNodeResources(client, { node, resources, slots: slots ?? record.slots, signal: io.signal });
  if (options.json) {
    printJson(io, { txHashes: result.txHashes, node, resources, slots: slots ?? record.slots });
    return;
  }
  printLine(
    io,
    `node ${node} now advertises ${resources.cpuMillicores} millicores, ${resources.memoryMiB} MiB memory, ${resources.storageGiB} GiB storage, ${resources.gpus} GPUs, ${slots ?? record.slots} slots (tx ${result.hash})`,
  );
  if (cpu !== undefined && cpu > record.resources.cpuMillicores) printLine(io, "the raised CPU counts as unproven until the other Xnodes challenge it again (dsmp network proofs)");
}

export interface NodeInfoOptions extends GlobalOptions {
  node: string;
}

/** `dsmp node info <address>`: the registry's record of a node. */
export async function nodeInfoCommand(options: NodeInfoOptions, io: CliIo): Promise<void> {
  const node = parseAddress(options.node, "<address>");
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const record = await getNode(client, { node });
  const peerId = record.peerId === "0x" ? "" : base58btc.baseEncode(hexToBytes(record.peerId));
  if (record.status === "none") throw new CliNotFoundError(`node ${node} is not registered (\`dsmp node register\` registers one)`);
  if (options.json) {
    printJson(io, { ...record, peerId, peerIdBytes: record.peerId });
    return;
  }
  const { resources } = record;
  printFields(io, [
    ["node", record.node],
    ["status", record.status],
    ["operator", record.operator],
    ["peer id", peerId],
    ["resources", `${resources.cpuMillicores} millicores, ${resources.memoryMiB} MiB memory, ${resources.storageGiB} GiB storage, ${resources.gpus} GPUs`],
    ["slots", String(record.slots)],
    ["bond", tokenAmount(client, record.bond)],
    ["registered", utcTime(record.registeredAt)],
    ["jailed until", record.jailedUntil === 0n ? "-" : utcTime(record.jailedUntil)],
    ["metadata", record.metadataURI === "" ? "-" : record.metadataURI],
  ]);
}

/** `dsmp node keygen --keystore <file>`: a new node key (never overwrites one). */
export async function nodeKeygenCommand(options: { keystore: string; passphrase: string | undefined; json: boolean }, io: CliIo): Promise<void> {
  const identity = await createKeystore(options.keystore, { passphrase: options.passphrase });
  const result = { keystore: options.keystore, node: identity.address, peerId: identity.peerId.toString(), encrypted: options.passphrase !== undefined && options.passphrase !== "" };
  if (options.json) return printJson(io, result);
  printFields(io, [
    ["keystore", result.keystore],
    ["node", result.node],
    ["peer id", result.peerId],
    ["encrypted", result.encrypted ? "yes (passphrase from the environment)" : "no (file mode 0600)"],
  ]);
}

/** `--passphrase-env <name>`: the variable a keystore passphrase is read from (never the passphrase itself). */
const passphraseEnvOption = (description: string) => ({ name: "passphrase-env", type: "string", value: "<name>", description }) as const;

export const nodeRegisterCommands: readonly CliCommand[] = [
  {
    path: ["node", "keygen"],
    summary: "create a node key in a new keystore file (never overwrites one)",
    description:
      "Generate a secp256k1 node key and write it to a new keystore file (mode 0600), encrypted when the passphrase variable is set.\nPrints the node address (what `dsmp node register` registers) and its libp2p PeerId. `dsmp node start` creates <data-dir>/node-key.json the same way on first start.",
    options: [
      { name: "keystore", type: "string", value: "<file>", description: "keystore file to create", required: true },
      passphraseEnvOption(`environment variable holding a passphrase to encrypt the key with (default ${DEFAULT_PASSPHRASE_ENV}; unset: not encrypted)`),
    ],
    examples: ["dsmp node keygen --keystore ~/.dsmp/node-key.json"],
    run: (input, io) =>
      nodeKeygenCommand({ keystore: input.requiredString("keystore"), passphrase: input.env[input.string("passphrase-env") ?? DEFAULT_PASSPHRASE_ENV], json: input.global.json }, io),
  },
  {
    path: ["node", "register"],
    summary: "register an Xnode (its key from a keystore) under the signing operator",
    description:
      "Register an Xnode under the signing account (its operator). The node key in the keystore signs an EIP-712 proof of possession;\nthe registry locks the minimum node stake of the operator's free stake as the node's bond (stake first with `dsmp stake`).",
    options: [
      { name: "keystore", type: "string", value: "<file>", description: "keystore file of the node key", required: true },
      passphraseEnvOption(`environment variable holding the keystore passphrase (default ${DEFAULT_PASSPHRASE_ENV})`),
      { name: "cpu", type: "string", value: "<millicores>", description: "CPU offered, in millicores (1000 = one core)", required: true },
      { name: "memory", type: "string", value: "<MiB>", description: "memory offered, in MiB", required: true },
      { name: "storage", type: "string", value: "<GiB>", description: "storage offered, in GiB (default 0)" },
      { name: "gpus", type: "string", value: "<n>", description: "GPUs offered (default 0)" },
      { name: "slots", type: "string", value: "<n>", description: "capacity slots: tasks or replicas the node runs at once", required: true },
      { name: "metadata", type: "string", value: "<uri>", description: "operator metadata URI (region, contact, …)" },
    ],
    examples: ["dsmp node register --keystore ~/.dsmp/node-key.json --cpu 4000 --memory 8192 --storage 100 --gpus 0 --slots 4"],
    run: (input, io) => {
      const passphraseEnv = input.string("passphrase-env") ?? DEFAULT_PASSPHRASE_ENV;
      return nodeRegisterCommand(
        {
          ...input.global,
          keystore: input.requiredString("keystore"),
          passphrase: input.env[passphraseEnv],
          cpu: input.requiredString("cpu"),
          memory: input.requiredString("memory"),
          storage: input.string("storage") ?? "0",
          gpus: input.string("gpus") ?? "0",
          slots: input.requiredString("slots"),
          metadata: input.string("metadata"),
        },
        io,
      );
    },
  },
  {
    path: ["node", "update"],
    summary: "change the resources and slots a registered Xnode advertises (its operator signs)",
    description:
      "Send XnodeRegistry.updateResources for <address>, signed by its operator. Options not given keep their on-chain value. The task draw and Proof of Resource (docs/proof-of-resource.md) use the new figures; a raised CPU is unproven until challenged again.",
    positionals: [{ name: "address", description: "node address (the Ethereum address of its key)" }],
    options: [
      { name: "cpu", type: "string", value: "<millicores>", description: "CPU offered, in millicores (1000 = one core)" },
      { name: "memory", type: "string", value: "<MiB>", description: "memory offered, in MiB" },
      { name: "storage", type: "string", value: "<GiB>", description: "storage offered, in GiB" },
      { name: "gpus", type: "string", value: "<n>", description: "GPUs offered" },
      { name: "slots", type: "string", value: "<n>", description: "capacity slots" },
    ],
    examples: ["dsmp node update 0x1b2c…9f0e --cpu 2000", "dsmp node update 0x1b2c…9f0e --memory 16384 --slots 8 --json"],
    run: (input, io) =>
      nodeUpdateCommand(
        {
          ...input.global,
          node: input.argument("address"),
          cpu: input.string("cpu"),
          memory: input.string("memory"),
          storage: input.string("storage"),
          gpus: input.string("gpus"),
          slots: input.string("slots"),
        },
        io,
      ),
  },
  {
    path: ["node", "info"],
    summary: "show the registry's record of a node",
    positionals: [{ name: "address", description: "node address (the Ethereum address of its key)" }],
    examples: ["dsmp node info 0x1b2c…9f0e --json"],
    run: (input, io) => nodeInfoCommand({ ...input.global, node: input.argument("address") }, io),
  },
];
