import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { describe, expect, it } from "vitest";
import { namedWallets, signPermit, TOKEN_SUPPLY } from "./staking.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const FAUCET_MAX = 1_000n * 10n ** 18n;
const HOUR = 3_600n;

async function tokenFixture(connection: NetworkConnection) {
  const { deployer: treasury, operators } = await namedWallets(connection);
  const [alice, bob] = operators;
  const { contract: token, deploymentTransaction } = await connection.viem.sendDeploymentTransaction("OpenToken", [
    treasury.account.address,
    TOKEN_SUPPLY,
  ]);
  const chainId = await (await connection.viem.getPublicClient()).getChainId();
  return { token, deployHash: deploymentTransaction.hash, treasury, alice, bob, chainId };
}

describe("OpenToken", () => {
  it("mints the whole fixed supply to the treasury", async () => {
    const { token, treasury } = await loadFixture(tokenFixture);
    expect(await token.read.name()).toBe("Openmesh");
    expect(await token.read.symbol()).toBe("OPEN");
    expect(await token.read.decimals()).toBe(18);
    expect(await token.read.totalSupply()).toBe(TOKEN_SUPPLY);
    expect(await token.read.balanceOf([treasury.account.address])).toBe(TOKEN_SUPPLY);
  });

  describe("faucet", () => {
    it("mints up to FAUCET_AMOUNT_MAX on chain 31337 and emits FaucetDrip", async () => {
      const { token, alice, chainId } = await loadFixture(tokenFixture);
      expect(chainId).toBe(31337);
      expect(await token.read.FAUCET_AMOUNT_MAX()).toBe(FAUCET_MAX);
      await viem.assertions.emitWithArgs(
        token.write.faucet([FAUCET_MAX], { account: alice.account }),
        token,
        "FaucetDrip",
        [alice.account.address, FAUCET_MAX],
      );
      expect(await token.read.balanceOf([alice.account.address])).toBe(FAUCET_MAX);
      expect(await token.read.totalSupply()).toBe(TOKEN_SUPPLY + FAUCET_MAX);
      expect(await token.read.lastFaucetAt([alice.account.address])).toBe(BigInt(await time.latest()));
    });

    it("rejects more than FAUCET_AMOUNT_MAX", async () => {
      const { token, alice } = await loadFixture(tokenFixture);
      await viem.assertions.revertWithCustomErrorWithArgs(
        token.write.faucet([FAUCET_MAX + 1n], { account: alice.account }),
        token,
        "OpenTokenFaucetAmountTooLarge",
        [FAUCET_MAX + 1n, FAUCET_MAX],
      );
    });

    it("enforces the cooldown per account", async () => {
      const { token, alice, bob } = await loadFixture(tokenFixture);
      const t0 = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(t0);
      await token.write.faucet([1n], { account: alice.account });
      await time.setNextBlockTimestamp(t0 + HOUR - 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        token.write.faucet([1n], { account: alice.account }),
        token,
        "OpenTokenFaucetCooldown",
        [alice.account.address, t0 + HOUR],
      );
      await token.write.faucet([1n], { account: bob.account }); // other accounts are not affected
      await time.setNextBlockTimestamp(t0 + HOUR);
      await token.write.faucet([1n], { account: alice.account });
      expect(await token.read.balanceOf([alice.account.address])).toBe(2n);
    });

    it("is disabled on a non-development chain", async () => {
      const mainnetLike = await network.create({ override: { chainId: 1 } });
      const { token, alice } = await tokenFixture(mainnetLike);
      await mainnetLike.viem.assertions.revertWithCustomErrorWithArgs(
        token.write.faucet([1n], { account: alice.account }),
        token,
        "OpenTokenFaucetDisabled",
        [1n],
      );
      await mainnetLike.close();
    });
  });

  describe("permit", () => {
    it("sets an allowance from an owner signature and bumps the nonce", async () => {
      const { token, treasury, alice, chainId } = await loadFixture(tokenFixture);
      const owner = treasury.account.address;
      const deadline = BigInt(await time.latest()) + HOUR;
      const sig = await signPermit({
        token,
        owner: treasury,
        spender: alice.account.address,
        value: 77n,
        deadline,
        chainId,
      });
      await viem.assertions.emitWithArgs(
        token.write.permit([owner, alice.account.address, 77n, deadline, sig.v, sig.r, sig.s], {
          account: alice.account,
        }),
        token,
        "Approval",
        [owner, alice.account.address, 77n],
      );
      expect(await token.read.nonces([owner])).toBe(1n);
      await token.write.transferFrom([owner, alice.account.address, 77n], { account: alice.account });
      expect(await token.read.balanceOf([alice.account.address])).toBe(77n);
      // replay: the nonce moved on, so the recovered signer is no longer the owner
      await viem.assertions.revertWithCustomError(
        token.write.permit([owner, alice.account.address, 77n, deadline, sig.v, sig.r, sig.s]),
        token,
        "ERC2612InvalidSigner",
      );
    });

    it("rejects an expired permit and a permit signed by someone else", async () => {
      const { token, treasury, alice, bob, chainId } = await loadFixture(tokenFixture);
      const owner = treasury.account.address;
      const now = BigInt(await time.latest());
      const expired = await signPermit({
        token,
        owner: treasury,
        spender: bob.account.address,
        value: 1n,
        deadline: now,
        chainId,
      });
      await viem.assertions.revertWithCustomErrorWithArgs(
        token.write.permit([owner, bob.account.address, 1n, now, expired.v, expired.r, expired.s]),
        token,
        "ERC2612ExpiredSignature",
        [now],
      );
      const deadline = now + HOUR;
      // alice signs a permit for her own tokens; presented as the treasury's it recovers to some other address
      const forged = await signPermit({
        token,
        owner: alice,
        spender: bob.account.address,
        value: 1n,
        deadline,
        chainId,
        nonce: 0n,
      });
      await viem.assertions.revertWithCustomErrorWithArgs(
        token.write.permit([owner, bob.account.address, 1n, deadline, forged.v, forged.r, forged.s]),
        token,
        "ERC2612InvalidSigner",
        [(signer: unknown) => typeof signer === "string" && signer.toLowerCase() !== owner.toLowerCase(), owner],
      );
    });
  });

  it("lets holders burn their tokens", async () => {
    const { token, treasury } = await loadFixture(tokenFixture);
    await token.write.burn([10n]);
    expect(await token.read.totalSupply()).toBe(TOKEN_SUPPLY - 10n);
    expect(await token.read.balanceOf([treasury.account.address])).toBe(TOKEN_SUPPLY - 10n);
  });
});
