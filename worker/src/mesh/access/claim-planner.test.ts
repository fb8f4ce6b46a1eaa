import type { Address, Hex } from "viem";
import { describe, expect, it } from "vitest";
import { dsmpStateReducer, type DsmpState, type EscrowView, type ServiceView } from "../../chain/dsmp-state.ts";
import { planClaims, type ClaimPlanInput, type PendingCall } from "./claim-planner.ts";

const A = "0x00000000000000000000000000000000000000aa" as Address;
const B = "0x00000000000000000000000000000000000000bb" as Address;
const NOW = 1_800_000_000;
const WINDOW = 7 * 86_400;
const MINUTE = 60_000;

function state(services: Record<string, bigint>, escrows: Record<string, Partial<EscrowView>>): DsmpState {
  const s = dsmpStateReducer.initial();
  for (const [id, perCall] of Object.entries(services)) {
    s.services.set(BigInt(id), { pricing: { perCall, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n } } as ServiceView);
  }
  for (const [key, e] of Object.entries(escrows)) {
    s.escrows.set(key, { balance: 0n, pricePerCall: 0n, pendingWithdrawal: 0n, withdrawableAt: 0n, ...e });
  }
  return s;
}

let seq = 0;
function call(serviceId: string, consumer: Address, over: Partial<PendingCall> = {}): PendingCall {
  seq++;
  return {
    serviceId,
    consumer,
    expiry: NOW + 60,
    nonce: `0x${seq.toString(16).padStart(64, "0")}` as Hex,
    signature: "0x00",
    servedAt: NOW * 1000 - MINUTE,
    ...over,
  };
}

function plan(pending: PendingCall[], s: DsmpState, over: Partial<ClaimPlanInput> = {}) {
  return planClaims({
    pending,
    state: s,
    nowSeconds: NOW,
    nowMs: NOW * 1000,
    claimWindowSeconds: WINDOW,
    maxDelayMs: 10 * MINUTE,
    expiringWithinSeconds: 3600,
    ...over,
  });
}

const funded = (balance: bigint, pricePerCall = 10n, more: Partial<EscrowView> = {}) => ({ balance, pricePerCall, ...more });

describe("planClaims", () => {
  it("leaves young claimable calls waiting, so one transaction later pays for many", () => {
    const pending = [call("4", A), call("4", A)];
    const p = plan(pending, state({ 4: 10n }, { [`4:${A}`]: funded(100n) }));
    expect(p).toEqual({ batches: [], dropped: [], held: [], waiting: pending });
  });

  const TRIGGERS: { name: string; pending: () => PendingCall[]; escrow?: Partial<EscrowView>; over?: Partial<ClaimPlanInput>; trigger: string }[] = [
    { name: "age: the oldest waited maxDelayMs", pending: () => [call("4", A, { servedAt: NOW * 1000 - 10 * MINUTE }), call("4", A)], trigger: "age" },
    { name: "forced by the operator", pending: () => [call("4", A)], over: { force: true }, trigger: "forced" },
    { name: "full: a whole batch is ready", pending: () => [call("4", A), call("4", A), call("4", A)], over: { batchSize: 3 }, trigger: "full" },
    { name: "withdrawal: the consumer asked for so much back that what stays no longer covers our calls", pending: () => [call("4", A)], escrow: { pendingWithdrawal: 995n }, trigger: "withdrawal" },
    { name: "expiring: within an hour of turning stale", pending: () => [call("4", A, { expiry: NOW - WINDOW + 3599 })], trigger: "expiring" },
  ];
  it.each(TRIGGERS.map((t) => [t.name, t] as const))("claims on %s", (_name, t) => {
    const pending = t.pending();
    const p = plan(pending, state({ 4: 10n }, { [`4:${A}`]: funded(1000n, 10n, t.escrow) }), t.over);
    expect(p.batches).toEqual([{ serviceId: 4n, calls: pending, trigger: t.trigger, expectedGross: 10n * BigInt(pending.length) }]);
    expect(p.waiting).toEqual([]);
  });

  it("drops stale calls (with the mining margin); holds calls of a service priced at 0 now (the owner may restore the price)", () => {
    const stale = call("4", A, { expiry: NOW - WINDOW - 1 });
    const almost = call("4", A, { expiry: NOW - WINDOW + 119 });
    const fine = call("4", A, { expiry: NOW - WINDOW + 121 });
    const free = call("5", A);
    const p = plan([stale, almost, fine, free], state({ 4: 10n, 5: 0n }, { [`4:${A}`]: funded(100n), [`5:${A}`]: funded(100n) }));
    expect(p.dropped).toEqual([
      { call: stale, reason: "stale" },
      { call: almost, reason: "stale" },
    ]);
    expect(p.held).toEqual([free]);
    expect(p.batches.map((b) => b.calls)).toEqual([[fine]]);
    expect(p.batches[0]!.trigger).toBe("expiring");
  });

  it("a withdrawal that leaves enough for our calls is no hurry (a token withdrawal cannot make us claim call by call)", () => {
    const pending = [call("4", A)];
    const p = plan(pending, state({ 4: 10n }, { [`4:${A}`]: funded(1000n, 10n, { pendingWithdrawal: 1n }) }));
    expect(p.batches).toEqual([]);
    expect(p.waiting).toEqual(pending);
  });

  it("holds calls without escrow and those the balance no longer covers, debiting as the contract would", () => {
    const a1 = call("4", A);
    const a2 = call("4", A);
    const a3 = call("4", A);
    const b1 = call("4", B);
    // A has 25 at 10 per call: two calls fit, the third is held; B never deposited.
    const p = plan([a1, b1, a2, a3], state({ 4: 10n }, { [`4:${A}`]: funded(25n) }), { force: true });
    expect(p.batches).toEqual([{ serviceId: 4n, calls: [a1, a2], trigger: "forced", expectedGross: 20n }]);
    expect(p.held).toEqual([b1, a3]);
  });

  it("charges min(agreed, current) price: a raise after the deposit is not charged", () => {
    const calls = [call("4", A), call("4", A), call("4", A)];
    const raised = plan(calls, state({ 4: 50n }, { [`4:${A}`]: funded(30n, 10n) }), { force: true });
    expect(raised.batches[0]).toMatchObject({ expectedGross: 30n });
    expect(raised.batches[0]!.calls).toHaveLength(3);
    const cut = plan(calls, state({ 4: 5n }, { [`4:${A}`]: funded(30n, 10n) }), { force: true });
    expect(cut.batches[0]).toMatchObject({ expectedGross: 15n });
  });

  it("splits into batches of at most batchSize per service, oldest first", () => {
    const four = [call("4", A), call("4", A), call("4", A), call("4", A)];
    const seven = [call("7", B)];
    const p = plan([...four, ...seven], state({ 4: 1n, 7: 2n }, { [`4:${A}`]: funded(10n, 1n), [`7:${B}`]: funded(10n, 2n) }), { force: true, batchSize: 3 });
    expect(p.batches.map((b) => [b.serviceId, b.calls.length, b.expectedGross])).toEqual([
      [4n, 3, 3n],
      [4n, 1, 1n],
      [7n, 1, 2n],
    ]);
    expect(p.batches[0]!.calls).toEqual(four.slice(0, 3));
  });
});
