/**
 * The chain view's per-call escrows, folded from real UsageEscrow events on Hardhat's chain, must equal
 * `UsageEscrow.accountOf` after deposits, re-agreements, third-party deposits, withdrawal requests, a
 * cancellation, claims and a withdrawal.
 */
import { network } from "hardhat";
import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { abis } from "@dsmp/contracts";
import { PER_CALL, WITHDRAWAL_DELAY, meteredParams, signCall, usageFixture } from "../../../contracts/test/usage.fixture.ts";
import { ChainIndexer } from "./indexer.ts";
import { dsmpStateReducer, escrowOf } from "./dsmp-state.ts";

describe("dsmpStateReducer: UsageEscrow", () => {
  it("matches accountOf after a mixed history", async () => {
    const connection = await network.create();
    const fx = await usageFixture(connection);
    const { time } = connection.networkHelpers;
    const [a, b, c] = fx.consumers;
    const as = (x: typeof a) => ({ account: x!.wallet.account });

    await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], as(a));
    await fx.escrow.write.deposit([fx.serviceId, 3n * PER_CALL, PER_CALL], as(b));
    await fx.escrow.write.depositFor([fx.serviceId, c!.address, 2n * PER_CALL, PER_CALL], as(a)); // a funds c
    await fx.escrow.write.claim([fx.serviceId, [await signCall(fx, a!), await signCall(fx, a!), await signCall(fx, b!)]], { account: fx.node });
    await fx.escrow.write.requestWithdrawal([fx.serviceId, 4n * PER_CALL], as(a));
    await fx.escrow.write.requestWithdrawal([fx.serviceId, PER_CALL], as(b));
    await fx.escrow.write.cancelWithdrawal([fx.serviceId], as(b));
    await fx.services.write.update([fx.serviceId, meteredParams({ perCall: 2n * PER_CALL })], { account: fx.serviceOwner.account });
    await fx.escrow.write.deposit([fx.serviceId, 0n, 2n * PER_CALL], as(b)); // re-agrees to the raised price
    await fx.escrow.write.claim([fx.serviceId, [await signCall(fx, b!), await signCall(fx, c!)]], { account: fx.node });
    await time.increase(WITHDRAWAL_DELAY);
    await fx.escrow.write.withdraw([fx.serviceId], as(a));

    const indexer = new ChainIndexer({
      client: fx.publicClient,
      contracts: [{ name: "UsageEscrow", address: fx.escrow.address, abi: abis.UsageEscrow }],
      reducer: dsmpStateReducer,
    });
    await indexer.sync();
    for (const x of [a!, b!, c!]) {
      const onChain = await fx.escrow.read.accountOf([fx.serviceId, x.address]);
      const view = escrowOf(indexer.state, fx.serviceId, x.address.toLowerCase() as Address)!;
      expect(view).toEqual({
        balance: onChain.balance,
        pricePerCall: onChain.pricePerCall,
        pendingWithdrawal: onChain.pendingWithdrawal,
        withdrawableAt: BigInt(onChain.withdrawableAt),
      });
    }
    // The history left distinct states: a withdrew, b re-agreed at 2×, c was funded by a third party and paid once.
    expect(escrowOf(indexer.state, fx.serviceId, a!.address.toLowerCase() as Address)).toMatchObject({ balance: 4n * PER_CALL, pendingWithdrawal: 0n });
    expect(escrowOf(indexer.state, fx.serviceId, b!.address.toLowerCase() as Address)).toMatchObject({ balance: 0n, pricePerCall: 2n * PER_CALL });
    expect(escrowOf(indexer.state, fx.serviceId, c!.address.toLowerCase() as Address)).toMatchObject({ balance: PER_CALL, pricePerCall: PER_CALL });
    expect(escrowOf(indexer.state, fx.serviceId, "0x00000000000000000000000000000000000000aa")).toBeUndefined();
  });
});
