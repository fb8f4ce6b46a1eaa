import { describe, expect, it } from "vitest";
import type { Address, Hex } from "viem";
import { bytesToHex } from "viem";
import { dsmpStateReducer, type DsmpState, type ServiceView } from "../chain/dsmp-state.ts";
import { testIdentity } from "./discovery-network.fixture.ts";
import { allowListEligibility, chainViewEligibility, nodeAddressOfPeerId } from "./provider-eligibility.ts";

const A = testIdentity("eligibility A");
const B = testIdentity("eligibility B");
const OPERATOR: Address = "0x00000000000000000000000000000000000000aa";

/** A chain view with node A registered, active, operated by OPERATOR who bonded 1000 and locked 500. */
function stateWithA(): DsmpState {
  const state = dsmpStateReducer.initial();
  const node = A.address.toLowerCase() as Address;
  const peerId = bytesToHex(A.peerIdBytes()) as Hex;
  state.nodes.set(node, {
    node,
    operator: OPERATOR,
    status: "active",
    peerId,
    resources: { cpuMillicores: 1000, memoryMiB: 1024, storageGiB: 10, gpus: 0 },
    slots: 1,
    bond: 500n,
    metadataURI: "",
    jailedUntil: 0n,
  });
  state.nodeByPeerId.set(peerId, node);
  state.stakes.set(OPERATOR, { bonded: 1000n, locked: 500n, unbonding: 0n, unbondingReleaseAt: 0n, slashed: 0n });
  return state;
}

const candidate = (identity = A, serviceId = 1n) => ({ serviceId, peerId: identity.peerIdBytes(), node: identity.address });

describe("nodeAddressOfPeerId", () => {
  it("derives the node address from the PeerId bytes of the same key", () => {
    expect(nodeAddressOfPeerId(A.peerIdBytes())).toBe(A.address);
    expect(nodeAddressOfPeerId(A.peerId.toMultihash().bytes)).toBe(A.address);
  });

  it("refuses bytes that are not a secp256k1 PeerId or not a curve point", () => {
    expect(nodeAddressOfPeerId(new Uint8Array(39))).toBeUndefined();
    expect(nodeAddressOfPeerId(A.peerIdBytes().subarray(1))).toBeUndefined();
    const offCurve = A.peerIdBytes();
    offCurve.fill(0xff, 7); // prefix and parity byte kept, X = 2^256 - 1 is not a field element
    expect(nodeAddressOfPeerId(offCurve)).toBeUndefined();
  });
});

describe("allowListEligibility", () => {
  it("admits listed node addresses in any case", () => {
    const eligible = allowListEligibility([A.address.toUpperCase().replace("0X", "0x") as Address]);
    expect(eligible(candidate(A))).toBe(true);
    expect(eligible(candidate(B))).toBe(false);
  });
});

describe("chainViewEligibility", () => {
  const service = (overrides: Partial<ServiceView>): ServiceView => ({ ...({} as ServiceView), id: 1n, status: "active", minProviderStake: 0n, ...overrides });

  it.each<[string, (state: DsmpState) => void, boolean]>([
    ["registered, active and staked", () => undefined, true],
    ["jailed", (s) => void (s.nodes.get(A.address.toLowerCase() as Address)!.status = "jailed"), false],
    ["retired", (s) => void (s.nodes.get(A.address.toLowerCase() as Address)!.status = "retired"), false],
    ["slashed below the locked bond", (s) => void (s.stakes.get(OPERATOR)!.bonded = 499n), false],
    ["below the service's minimum provider stake", (s) => void s.services.set(1n, service({ minProviderStake: 1001n })), false],
    ["at the service's minimum provider stake", (s) => void s.services.set(1n, service({ minProviderStake: 1000n })), true],
    ["the service is retired", (s) => void s.services.set(1n, service({ status: "retired" })), false],
  ])("%s → %s", (_name, change, expected) => {
    const state = stateWithA();
    change(state);
    expect(chainViewEligibility({ state })(candidate(A))).toBe(expected);
  });

  it("refuses an unregistered PeerId and a PeerId paired with another node's address", () => {
    const eligible = chainViewEligibility({ state: stateWithA() });
    expect(eligible(candidate(B))).toBe(false);
    expect(eligible({ ...candidate(A), node: B.address })).toBe(false);
  });

  it("reads the view's current state on every call", () => {
    const view = { state: dsmpStateReducer.initial() };
    const eligible = chainViewEligibility(view);
    expect(eligible(candidate(A))).toBe(false);
    view.state = stateWithA();
    expect(eligible(candidate(A))).toBe(true);
  });
});
