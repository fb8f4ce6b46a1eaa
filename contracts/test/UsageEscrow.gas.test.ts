/**
 * Gas of UsageEscrow.claim by batch size, for calls of one consumer and of distinct consumers (each call then
 * touches a cold escrow account). Prints the table docs/contracts.md quotes and bounds the per-call cost.
 * Each batch starts from the same snapshot, so the fixed part (service and stake reads, two transfers) is equal.
 */
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { maxUint256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { PER_CALL, signCall, usageFixture, type Consumer, type SignedCall } from "./usage.fixture.ts";

const { networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const SIZES = [1, 16, 100, 256] as const;

/** usageFixture + consumer A funded for 256 calls + 256 key-only consumers funded for one call each by depositFor. */
async function gasFixture(connection: NetworkConnection) {
  const fx = await usageFixture(connection);
  const a = fx.consumers[0]!;
  await fx.escrow.write.deposit([fx.serviceId, 256n * PER_CALL, PER_CALL], { account: a.wallet.account });
  await fx.token.write.approve([fx.escrow.address, maxUint256]);
  const many: Consumer[] = [];
  for (let i = 0; i < 256; i++) {
    const signer = privateKeyToAccount(generatePrivateKey());
    await fx.escrow.write.depositFor([fx.serviceId, signer.address, PER_CALL, PER_CALL]); // payer: the deployer
    many.push({ wallet: a.wallet, signer, address: signer.address });
  }
  return { ...fx, many };
}

type GasFx = Awaited<ReturnType<typeof gasFixture>>;

async function claimGas(fx: GasFx, calls: SignedCall[]) {
  const hash = await fx.escrow.write.claim([fx.serviceId, calls], { account: fx.node });
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt.gasUsed;
}

describe("UsageEscrow claim gas", () => {
  it("per call: ≈ 35 k (one consumer) / ≈ 41.5 k (distinct consumers) on top of a fixed ≈ 110 k", async () => {
    const rows: { calls: number; single: bigint; distinct: bigint }[] = [];
    for (const n of SIZES) {
      let fx = await loadFixture(gasFixture);
      const a = fx.consumers[0]!;
      const single = await claimGas(fx, await Promise.all(Array.from({ length: n }, () => signCall(fx, a))));
      fx = await loadFixture(gasFixture);
      const distinct = await claimGas(fx, await Promise.all(fx.many.slice(0, n).map((c) => signCall(fx, c))));
      rows.push({ calls: n, single, distinct });
    }
    const first = rows[0]!;
    const marginal = (r: (typeof rows)[number], k: "single" | "distinct") => (r.calls === 1 ? 0n : (r[k] - first[k]) / BigInt(r.calls - 1));
    const table = [
      "| calls | one consumer: total | per call | marginal | distinct consumers: total | per call | marginal |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.calls} | ${r.single} | ${r.single / BigInt(r.calls)} | ${marginal(r, "single") || "—"} | ${r.distinct} | ${r.distinct / BigInt(r.calls)} | ${marginal(r, "distinct") || "—"} |`,
      ),
    ].join("\n");
    console.log(`UsageEscrow.claim gas (gasUsed, intrinsic and calldata included)\n${table}`);

    const last = rows[rows.length - 1]!;
    expect(marginal(last, "single")).toBeLessThan(36_000n);
    // Distinct consumers: a cold account costs two slots (balance and agreed price; price era and withdrawal).
    expect(marginal(last, "distinct")).toBeLessThan(43_000n);
    expect(last.distinct).toBeLessThan(11_000_000n); // a full batch of cold accounts fits a block a third full
  });
});
