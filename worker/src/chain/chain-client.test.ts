/**
 * Connecting: a dead endpoint and a deployment of another chain fail before anything is sent, with errors
 * that say what to do. A tiny JSON-RPC server stands in for the chain (only eth_chainId is asked).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Deployment } from "@dsmp/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../scripts/lib/hardhat-node.ts";
import { ChainMismatchError, ChainUnreachableError } from "../errors.ts";
import { createDsmpChainClient, fetchChainId } from "./chain-client.ts";

const contract = (address: string) => ({ address, blockNumber: 1, txHash: "0x", abiHash: "0x", bytecodeHash: "0x", args: [] });
const deploymentOf = (chainId: number) =>
  ({
    chainId,
    deployer: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    treasury: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    contracts: {
      OpenToken: contract("0x5fbdb2315678afecb367f032d93f642f64180aa3"),
      Staking: contract("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"),
      XnodeRegistry: contract("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"),
      ServiceRegistry: contract("0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9"),
      Subscriptions: contract("0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"),
    },
  }) as Deployment;

describe("createDsmpChainClient", () => {
  let server: Server;
  let rpcUrl: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += String(chunk)));
      req.on("end", () => {
        const { id, method } = JSON.parse(body) as { id: number; method: string };
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(method === "eth_chainId" ? { jsonrpc: "2.0", id, result: "0x7a69" } : { jsonrpc: "2.0", id, error: { code: -32601, message: "no" } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    rpcUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads the chain id", async () => {
    expect(await fetchChainId(rpcUrl)).toBe(31337);
  });

  it("refuses a deployment of another chain", async () => {
    const error = await createDsmpChainClient({ rpcUrl, deployment: deploymentOf(1), deploymentSource: "deployments/1.json" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainMismatchError);
    expect((error as ChainMismatchError).shortMessage).toBe(`deployment file deployments/1.json is for chain 1, but ${rpcUrl} serves chain 31337`);
    expect(error).toMatchObject({ code: "CHAIN_MISMATCH", deploymentChainId: 1, rpcChainId: 31337 });
  });

  it("says when nothing answers", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const error = await createDsmpChainClient({ rpcUrl: dead, deployment: deploymentOf(31337) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainUnreachableError);
    expect((error as ChainUnreachableError).shortMessage).toBe(`cannot reach ${dead}: is the chain running? start one with \`npm run devnet\``);
  });
});
