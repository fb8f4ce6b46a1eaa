import { network } from "hardhat";
import { getAddress, zeroAddress, zeroHash } from "viem";
import { describe, expect, it } from "vitest";
import {
  ServiceKind,
  ServiceStatus,
  Visibility,
  buildAllowlist,
  deployServicesFixture,
  publishService,
  serviceParams,
  txTimestamp,
} from "./services.fixture.js";

const { viem, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const load = () => loadFixture(deployServicesFixture);

describe("ServiceRegistry", () => {
  describe("publish", () => {
    it("assigns sequential ids from 1, stores every field and emits the full parameters", async () => {
      const fx = await load();
      const { owner } = fx.accounts;
      const params = serviceParams({
        name: "inference",
        kind: ServiceKind.Task,
        visibility: Visibility.Private,
        pricing: { perCall: 5n, perPeriod: 7n, periodSeconds: 3_600n, oneTime: 9n, oneTimeDuration: 60n },
        minReplicas: 2,
        maxReplicas: 5,
        minProviderStake: 42n,
        metadataURI: "ipfs://x",
      });
      expect(await fx.registry.read.serviceCount()).toBe(0n);
      const hash = fx.registry.write.publish([params], { account: owner.account });
      await viem.assertions.emitWithArgs(hash, fx.registry, "ServicePublished", [1n, getAddress(owner.account.address), params]);
      const at = await txTimestamp(fx, await hash);

      const s = await fx.registry.read.getService([1n]);
      expect(s).toEqual({
        owner: getAddress(owner.account.address),
        status: ServiceStatus.Active,
        kind: ServiceKind.Task,
        visibility: Visibility.Private,
        publishedAt: at,
        retiredAt: 0n,
        allowlistRoot: zeroHash,
        pricing: params.pricing,
        manifestHash: params.manifestHash,
        minReplicas: 2,
        maxReplicas: 5,
        minProviderStake: 42n,
        name: "inference",
        metadataURI: "ipfs://x",
      });
      expect(await fx.registry.read.termsOf([1n])).toEqual({
        owner: getAddress(owner.account.address),
        status: ServiceStatus.Active,
        visibility: Visibility.Private,
        retiredAt: 0n,
        pricing: params.pricing,
      });
      expect(await fx.registry.read.perCallTermsOf([1n])).toEqual([params.pricing.perCall, 42n]);
      expect(await publishService(fx, { name: "second" })).toBe(2n);
      expect(await fx.registry.read.serviceCount()).toBe(2n);
      expect(await fx.registry.read.servicesOf([owner.account.address])).toEqual([1n, 2n]);
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "inference"])).toBe(1n);
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "missing"])).toBe(0n);
    });

    it("accepts a free service and names of 1 and 64 bytes", async () => {
      const fx = await load();
      const free = { perCall: 0n, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n };
      expect(await publishService(fx, { name: "a", pricing: free })).toBe(1n);
      expect(await publishService(fx, { name: "x".repeat(64) })).toBe(2n);
      expect(await publishService(fx, { name: "é".repeat(32) })).toBe(3n); // 64 bytes of UTF-8
    });

    it("rejects an empty or over-long name with its length", async () => {
      const fx = await load();
      const { owner } = fx.accounts;
      for (const [name, length] of [["", 0n], ["x".repeat(65), 65n], ["é".repeat(33), 66n]] as const) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          fx.registry.write.publish([serviceParams({ name })], { account: owner.account }),
          fx.registry,
          "ServiceRegistryInvalidNameLength",
          [length, 64n],
        );
      }
    });

    it("rejects a name the owner already uses, but not the same name for another owner", async () => {
      const fx = await load();
      const { owner, otherOwner } = fx.accounts;
      await publishService(fx, { name: "hello" });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.publish([serviceParams({ name: "hello" })], { account: owner.account }),
        fx.registry,
        "ServiceRegistryDuplicateName",
        [getAddress(owner.account.address), "hello", 1n],
      );
      expect(await publishService(fx, { name: "hello" }, otherOwner)).toBe(2n);
      expect(await publishService(fx, { name: "Hello" })).toBe(3n); // names are case-sensitive bytes
    });

    it("rejects replica bounds outside 1 <= min <= max", async () => {
      const fx = await load();
      for (const [minReplicas, maxReplicas] of [[0, 0], [0, 3], [4, 3]] as const) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          fx.registry.write.publish([serviceParams({ minReplicas, maxReplicas })], { account: fx.accounts.owner.account }),
          fx.registry,
          "ServiceRegistryInvalidReplicas",
          [minReplicas, maxReplicas],
        );
      }
      expect(await publishService(fx, { minReplicas: 3, maxReplicas: 3 })).toBe(1n);
    });

    it("rejects a per-period price without a period and a one-time price without a duration", async () => {
      const fx = await load();
      const { owner } = fx.accounts;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.publish([serviceParams({ pricing: { perPeriod: 5n, periodSeconds: 0n } })], { account: owner.account }),
        fx.registry,
        "ServiceRegistryInvalidPeriod",
        [5n, 0n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.publish([serviceParams({ pricing: { oneTime: 9n, oneTimeDuration: 0n } })], { account: owner.account }),
        fx.registry,
        "ServiceRegistryInvalidOneTime",
        [9n, 0n],
      );
      // A period or duration without a price is harmless.
      expect(await publishService(fx, { pricing: { perPeriod: 0n, periodSeconds: 0n, oneTimeDuration: 60n } })).toBe(1n);
    });
  });

  describe("update", () => {
    it("replaces every field, emits them, and moves the name index on a rename", async () => {
      const fx = await load();
      const { owner } = fx.accounts;
      const id = await publishService(fx, { name: "old" });
      const params = serviceParams({
        name: "new",
        kind: ServiceKind.Task,
        visibility: Visibility.Private,
        pricing: { perPeriod: 99n, periodSeconds: 60n },
        minReplicas: 4,
        maxReplicas: 8,
        metadataURI: "ipfs://v2",
      });
      await viem.assertions.emitWithArgs(
        fx.registry.write.update([id, params], { account: owner.account }),
        fx.registry,
        "ServiceUpdated",
        [id, params],
      );
      const s = await fx.registry.read.getService([id]);
      expect(s.name).toBe("new");
      expect(s.pricing).toEqual(params.pricing);
      expect([s.kind, s.visibility, s.minReplicas, s.maxReplicas, s.metadataURI]).toEqual([1, 1, 4, 8, "ipfs://v2"]);
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "old"])).toBe(0n);
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "new"])).toBe(id);
      // The old name is free again; keeping the same name is not a duplicate.
      expect(await publishService(fx, { name: "old" })).toBe(2n);
      await fx.registry.write.update([id, { ...params, metadataURI: "ipfs://v3" }], { account: owner.account });
      expect((await fx.registry.read.getService([id])).metadataURI).toBe("ipfs://v3");
    });

    it("rejects renaming onto another live service of the owner", async () => {
      const fx = await load();
      const { owner } = fx.accounts;
      const a = await publishService(fx, { name: "a" });
      const b = await publishService(fx, { name: "b" });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.update([b, serviceParams({ name: "a" })], { account: owner.account }),
        fx.registry,
        "ServiceRegistryDuplicateName",
        [getAddress(owner.account.address), "a", a],
      );
    });

    it("validates like publish", async () => {
      const fx = await load();
      const id = await publishService(fx);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.update([id, serviceParams({ minReplicas: 2, maxReplicas: 1 })], { account: fx.accounts.owner.account }),
        fx.registry,
        "ServiceRegistryInvalidReplicas",
        [2, 1],
      );
    });

    it("is owner-only and needs an existing service", async () => {
      const fx = await load();
      const { outsider, owner } = fx.accounts;
      const id = await publishService(fx);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.update([id, serviceParams()], { account: outsider.account }),
        fx.registry,
        "ServiceRegistryNotOwner",
        [id, getAddress(outsider.account.address)],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.update([7n, serviceParams()], { account: owner.account }),
        fx.registry,
        "ServiceRegistryUnknownService",
        [7n],
      );
    });
  });

  describe("retire", () => {
    it("is terminal: records the time, frees the name and blocks every change", async () => {
      const fx = await load();
      const { owner, outsider } = fx.accounts;
      const id = await publishService(fx, { name: "hello" });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.retire([id], { account: outsider.account }),
        fx.registry,
        "ServiceRegistryNotOwner",
        [id, getAddress(outsider.account.address)],
      );
      const hash = fx.registry.write.retire([id], { account: owner.account });
      await viem.assertions.emitWithArgs(hash, fx.registry, "ServiceRetired", [id, getAddress(owner.account.address)]);
      const s = await fx.registry.read.getService([id]);
      expect(s.status).toBe(ServiceStatus.Retired);
      expect(s.retiredAt).toBe(await txTimestamp(fx, await hash));
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "hello"])).toBe(0n);
      expect(await fx.registry.read.servicesOf([owner.account.address])).toEqual([id]);

      const o = { account: owner.account };
      const a = outsider.account.address;
      const calls = [
        fx.registry.write.update([id, serviceParams()], o),
        fx.registry.write.retire([id], o),
        fx.registry.write.transferServiceOwnership([id, a], o),
        fx.registry.write.grant([id, a], o),
        fx.registry.write.revoke([id, a], o),
        fx.registry.write.grantMany([id, [a]], o),
        fx.registry.write.revokeMany([id, [a]], o),
        fx.registry.write.setAllowlistRoot([id, zeroHash], o),
      ];
      for (const call of calls) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "ServiceRegistryServiceRetired", [id]);
      }
      expect(await publishService(fx, { name: "hello" })).toBe(2n);
    });
  });

  describe("transferServiceOwnership", () => {
    it("moves the service, its name and its id list to the new owner", async () => {
      const fx = await load();
      const { owner, otherOwner } = fx.accounts;
      const id = await publishService(fx, { name: "hello" });
      await viem.assertions.emitWithArgs(
        fx.registry.write.transferServiceOwnership([id, otherOwner.account.address], { account: owner.account }),
        fx.registry,
        "ServiceOwnershipTransferred",
        [id, getAddress(owner.account.address), getAddress(otherOwner.account.address)],
      );
      expect((await fx.registry.read.getService([id])).owner).toBe(getAddress(otherOwner.account.address));
      expect(await fx.registry.read.servicesOf([owner.account.address])).toEqual([]);
      expect(await fx.registry.read.servicesOf([otherOwner.account.address])).toEqual([id]);
      expect(await fx.registry.read.serviceIdByName([owner.account.address, "hello"])).toBe(0n);
      expect(await fx.registry.read.serviceIdByName([otherOwner.account.address, "hello"])).toBe(id);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.update([id, serviceParams()], { account: owner.account }),
        fx.registry,
        "ServiceRegistryNotOwner",
        [id, getAddress(owner.account.address)],
      );
      await fx.registry.write.update([id, serviceParams({ metadataURI: "ipfs://mine" })], { account: otherOwner.account });
    });

    it("rejects the zero address, a name clash at the new owner and non-owners", async () => {
      const fx = await load();
      const { owner, otherOwner, outsider } = fx.accounts;
      const id = await publishService(fx, { name: "hello" });
      const theirs = await publishService(fx, { name: "hello" }, otherOwner);
      await viem.assertions.revertWithCustomError(
        fx.registry.write.transferServiceOwnership([id, zeroAddress], { account: owner.account }),
        fx.registry,
        "ServiceRegistryZeroAddress",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.transferServiceOwnership([id, otherOwner.account.address], { account: owner.account }),
        fx.registry,
        "ServiceRegistryDuplicateName",
        [getAddress(otherOwner.account.address), "hello", theirs],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.transferServiceOwnership([id, outsider.account.address], { account: outsider.account }),
        fx.registry,
        "ServiceRegistryNotOwner",
        [id, getAddress(outsider.account.address)],
      );
    });
  });

  describe("allow-list", () => {
    it("admits anyone to a public service", async () => {
      const fx = await load();
      const id = await publishService(fx);
      expect(await fx.registry.read.isAllowed([id, fx.accounts.outsider.account.address, []])).toBe(true);
    });

    it("admits the owner and explicit grants to a private service, and nobody else", async () => {
      const fx = await load();
      const { owner, outsider, consumers } = fx.accounts;
      const id = await publishService(fx, { visibility: Visibility.Private });
      const [a, b] = consumers.map((c) => c.account.address);
      expect(await fx.registry.read.isAllowed([id, outsider.account.address, []])).toBe(false);
      expect(await fx.registry.read.isAllowed([id, owner.account.address, []])).toBe(true);

      await viem.assertions.emitWithArgs(
        fx.registry.write.grant([id, a!], { account: owner.account }),
        fx.registry,
        "AllowlistGranted",
        [id, getAddress(a!)],
      );
      expect(await fx.registry.read.isAllowed([id, a!, []])).toBe(true);
      expect(await fx.registry.read.isGranted([id, a!])).toBe(true);
      await viem.assertions.emitWithArgs(
        fx.registry.write.revoke([id, a!], { account: owner.account }),
        fx.registry,
        "AllowlistRevoked",
        [id, getAddress(a!)],
      );
      expect(await fx.registry.read.isAllowed([id, a!, []])).toBe(false);

      const hash = fx.registry.write.grantMany([id, [a!, b!]], { account: owner.account });
      await viem.assertions.emitWithArgs(hash, fx.registry, "AllowlistGranted", [id, getAddress(a!)]);
      await viem.assertions.emitWithArgs(hash, fx.registry, "AllowlistGranted", [id, getAddress(b!)]);
      expect(await fx.registry.read.isAllowed([id, b!, []])).toBe(true);
      const hash2 = fx.registry.write.revokeMany([id, [a!, b!]], { account: owner.account });
      await viem.assertions.emitWithArgs(hash2, fx.registry, "AllowlistRevoked", [id, getAddress(b!)]);
      expect(await fx.registry.read.isAllowed([id, a!, []])).toBe(false);
      expect(await fx.registry.read.isAllowed([id, b!, []])).toBe(false);
    });

    it("admits Merkle members with a valid proof only", async () => {
      const fx = await load();
      const { owner, outsider, consumers, otherOwner } = fx.accounts;
      const id = await publishService(fx, { visibility: Visibility.Private });
      const members = [...consumers.map((c) => c.account.address), otherOwner.account.address, fx.accounts.treasury.account.address];
      const tree = buildAllowlist(members);
      await viem.assertions.emitWithArgs(
        fx.registry.write.setAllowlistRoot([id, tree.root], { account: owner.account }),
        fx.registry,
        "AllowlistRootSet",
        [id, tree.root],
      );
      expect((await fx.registry.read.getService([id])).allowlistRoot).toBe(tree.root);
      for (const m of members) expect(await fx.registry.read.isAllowed([id, m, tree.proofOf(m)])).toBe(true);
      // Someone else's proof, no proof, or a non-member.
      expect(await fx.registry.read.isAllowed([id, members[0]!, tree.proofOf(members[1]!)])).toBe(false);
      expect(await fx.registry.read.isAllowed([id, members[0]!, []])).toBe(false);
      expect(await fx.registry.read.isAllowed([id, outsider.account.address, tree.proofOf(members[0]!)])).toBe(false);
      // A zero root disables proofs.
      await fx.registry.write.setAllowlistRoot([id, zeroHash], { account: owner.account });
      expect(await fx.registry.read.isAllowed([id, members[0]!, tree.proofOf(members[0]!)])).toBe(false);
    });

    it("builds single-member trees whose proof is empty", async () => {
      const fx = await load();
      const id = await publishService(fx, { visibility: Visibility.Private });
      const a = fx.accounts.consumers[0]!.account.address;
      const tree = buildAllowlist([a]);
      await fx.registry.write.setAllowlistRoot([id, tree.root], { account: fx.accounts.owner.account });
      expect(tree.proofOf(a)).toEqual([]);
      expect(await fx.registry.read.isAllowed([id, a, []])).toBe(true);
    });

    it("is owner-only and rejects the zero address", async () => {
      const fx = await load();
      const { owner, outsider } = fx.accounts;
      const id = await publishService(fx, { visibility: Visibility.Private });
      const o = { account: outsider.account };
      const a = outsider.account.address;
      for (const call of [
        fx.registry.write.grant([id, a], o),
        fx.registry.write.revoke([id, a], o),
        fx.registry.write.grantMany([id, [a]], o),
        fx.registry.write.revokeMany([id, [a]], o),
        fx.registry.write.setAllowlistRoot([id, zeroHash], o),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "ServiceRegistryNotOwner", [id, getAddress(a)]);
      }
      for (const call of [
        fx.registry.write.grant([id, zeroAddress], { account: owner.account }),
        fx.registry.write.revokeMany([id, [a, zeroAddress]], { account: owner.account }),
      ]) {
        await viem.assertions.revertWithCustomError(call, fx.registry, "ServiceRegistryZeroAddress");
      }
    });
  });

  describe("views", () => {
    it("revert with ServiceRegistryUnknownService for ids 0 and past the count", async () => {
      const fx = await load();
      await publishService(fx);
      for (const id of [0n, 2n]) {
        for (const call of [
          fx.registry.read.getService([id]),
          fx.registry.read.termsOf([id]),
          fx.registry.read.perCallTermsOf([id]),
          fx.registry.read.isAllowed([id, zeroAddress, []]),
        ]) {
          await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "ServiceRegistryUnknownService", [id]);
        }
      }
    });
  });
});
