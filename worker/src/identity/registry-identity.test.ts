/**
 * One key, two worlds: the identity the worker derives from a node key (address, 64-byte public key, libp2p
 * PeerId bytes) must equal what XnodeRegistry derives on-chain from the same public key — otherwise a node
 * could never prove that its PeerId is the registered one.
 */
import { network } from "hardhat";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bytesToHex, hexToBytes, parseEther } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { identityFromPrivateKey } from "./node-identity.ts";

describe("node identity vs XnodeRegistry.deriveIdentity", () => {
  it("agree on address and PeerId bytes for random keys", async () => {
    const { viem } = await network.create();
    const [admin] = await viem.getWalletClients();
    const token = await viem.deployContract("OpenToken", [admin!.account.address, parseEther("1")]);
    const staking = await viem.deployContract("Staking", [token.address, admin!.account.address, admin!.account.address]);
    const registry = await viem.deployContract("XnodeRegistry", [staking.address, admin!.account.address, 0n]);
    await fc.assert(
      fc.asyncProperty(fc.constant(null).map(() => generatePrivateKey()), async (key) => {
        const id = identityFromPrivateKey(hexToBytes(key));
        const [node, peerId] = await registry.read.deriveIdentity([bytesToHex(id.nodePublicKey64())]);
        expect(node).toBe(id.address);
        expect(peerId).toBe(bytesToHex(id.peerIdBytes()));
        expect(bytesToHex(id.peerId.toMultihash().bytes)).toBe(peerId);
      }),
      { numRuns: 50 },
    );
  });
});
