import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { afterEach, describe, expect, it } from "vitest";
import type { ClaimUsageReturnType, UsageCall, UsageRejectReason } from "../../chain/actions/claim-usage.ts";
import type { DsmpChainClient } from "../../chain/chain-client.ts";
import { dsmpStateReducer, type DsmpState, type ServiceView } from "../../chain/dsmp-state.ts";
import { UsageLedger, type UsageRecord } from "./usage-ledger.ts";
import { claimableCall, UsageSettler } from "./usage-settler.ts";

const OWNER = "0x00000000000000000000000000000000000000ee" as Address;
const A = "0x00000000000000000000000000000000000000aa" as Address;
const B = "0x00000000000000000000000000000000000000bb" as Address;
const NOW_S = Math.floor(Date.now() / 1000);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Service 4 per call at 10 (A funded with 25, B with 100), 5 free, 6 per period. */
function chainState(): DsmpState {
  const s = dsmpStateReducer.initial();
  const service = (id: bigint, perCall: bigint, perPeriod = 0n) =>
    ({ id, owner: OWNER, status: "active", pricing: { perCall, perPeriod, periodSeconds: perPeriod > 0n ? 60n : 0n, oneTime: 0n, oneTimeDuration: 0n } }) as ServiceView;
  s.services.set(4n, service(4n, 10n));
  s.services.set(5n, service(5n, 0n));
  s.services.set(6n, service(6n, 0n, 10n));
  s.escrows.set(`4:${A}`, { balance: 25n, pricePerCall: 10n, pendingWithdrawal: 0n, withdrawableAt: 0n });
  s.escrows.set(`4:${B}`, { balance: 100n, pricePerCall: 10n, pendingWithdrawal: 0n, withdrawableAt: 0n });
  return s;
}

let n = 0;
function served(serviceId: string, consumer: Address | null, over: Partial<UsageRecord> = {}): UsageRecord {
  n++;
  return {
    serviceId,
    consumer,
    provider: "0x00000000000000000000000000000000000000a1",
    time: Date.now(),
    status: 200,
    requestBytes: 2,
    responseBytes: 2,
    durationMs: 1,
    nonce: consumer === null ? null : (`0x${n.toString(16).padStart(64, "0")}` as Hex),
    expiry: consumer === null ? null : NOW_S + 60,
    signature: consumer === null ? null : (`0x${"ab".repeat(65)}` as Hex),
    ...over,
  };
}

/** A fake UsageEscrow.claim that pays from `balances` as the contract would and records what it was sent. */
function fakeEscrow(balances: Map<string, bigint>, price = 10n) {
  const sent: { serviceId: bigint; calls: UsageCall[] }[] = [];
  const paidNonces = new Set<string>();
  const claim = async (serviceId: bigint, calls: UsageCall[]): Promise<ClaimUsageReturnType> => {
    sent.push({ serviceId, calls });
    const paid: ClaimUsageReturnType["paid"] = [];
    const rejected: { consumer: Address; nonce: Hex; reason: UsageRejectReason }[] = [];
    for (const c of calls) {
      const k = `${serviceId}:${c.consumer}`;
      const balance = balances.get(k) ?? 0n;
      if (paidNonces.has(c.nonce)) rejected.push({ consumer: c.consumer, nonce: c.nonce, reason: "already-paid" });
      else if (balance < price) rejected.push({ consumer: c.consumer, nonce: c.nonce, reason: "insufficient-balance" });
      else {
        balances.set(k, balance - price);
        paidNonces.add(c.nonce);
        paid.push({ consumer: c.consumer, nonce: c.nonce, price });
      }
    }
    const gross = price * BigInt(paid.length);
    return { hash: "0x01", txHashes: ["0x01"], operator: OWNER, paid, rejected, operatorAmount: gross - gross / 40n, fee: gross / 40n, gasUsed: 1n };
  };
  return { claim, sent };
}

async function setup(state: DsmpState, balances = new Map<string, bigint>()) {
  const dir = mkdtempSync(join(tmpdir(), "dsmp-settler-"));
  dirs.push(dir);
  const ledger = await UsageLedger.open(join(dir, "usage-31337.jsonl"));
  const escrow = fakeEscrow(balances);
  const results: [string, number][] = [];
  const make = () =>
    new UsageSettler({
      ledger,
      chain: {} as DsmpChainClient,
      state: () => state,
      chainNow: () => NOW_S,
      stateFile: join(dir, "usage-claims-31337.json"),
      claimWindowSeconds: 7 * 86_400,
      auto: false,
      claim: escrow.claim,
      metrics: { callResult: (r, k) => void results.push([r, k]) },
    });
  return { dir, ledger, escrow, results, make };
}

describe("claimableCall", () => {
  const s = chainState();
  it.each([
    ["a per-call call with a token", served("4", A), true],
    ["no token (open service)", served("4", null), false],
    ["the backend failed (5xx is the provider's fault)", served("4", A, { status: 502 }), false],
    ["a 4xx answer is billed", served("4", A, { status: 404 }), true],
    ["the owner calls free", served("4", OWNER), false],
    ["a free service", served("5", A), false],
    ["a per-period service", served("6", A), false],
    ["an unknown service", served("77", A), false],
  ] as const)("%s", (_name, record, billable) => {
    expect(claimableCall(record, s) !== undefined).toBe(billable);
  });
});

describe("UsageSettler", () => {
  it("counts unclaimed calls per consumer from the moment they are served until they are paid", async () => {
    const state = chainState();
    const { ledger, make } = await setup(state, new Map([[`4:${A}`, 25n]]));
    const settler = make();
    await settler.start();
    expect(settler.unclaimed(4n, A)).toBe(0);
    // The provider reserves the call when it allows it; the ledger record follows once it is served.
    settler.reserve(4n, A);
    ledger.append(served("4", A));
    expect(settler.unclaimed(4n, A)).toBe(1);
    settler.reserve(4n, A);
    ledger.append(served("4", A));
    expect(settler.unclaimed(4n, A)).toBe(2);
    const round = await settler.claimNow();
    expect(round.claims).toEqual([expect.objectContaining({ serviceId: "4", trigger: "forced", calls: 2, paid: 2, rejected: {}, gross: "20" })]);
    expect(settler.unclaimed(4n, A)).toBe(0);
    expect(settler.unclaimed(4n, B)).toBe(0);
    // In flight: counted while it is served; released when it ends without a response.
    settler.reserve(4n, B);
    settler.reserve(4n, B);
    expect(settler.unclaimed(4n, B)).toBe(2);
    settler.release(4n, B);
    expect(settler.unclaimed(4n, B)).toBe(1);
    settler.release(4n, B);
    expect(settler.unclaimed(4n, B)).toBe(0);
    await settler.stop();
  });

  it("keeps a call refused for insufficient balance and claims it after a top-up; drops nothing else", async () => {
    const state = chainState();
    // The chain view says A has 25 (two calls), but another provider's claim took 10 meanwhile.
    const balances = new Map([[`4:${A}`, 15n]]);
    const { ledger, make, escrow, results } = await setup(state, balances);
    const settler = make();
    await settler.start();
    for (let i = 0; i < 2; i++) ledger.append(served("4", A));
    const first = await settler.claimNow();
    expect(first.claims[0]).toMatchObject({ paid: 1, rejected: { "insufficient-balance": 1 } });
    expect(first.pending).toBe(1);
    expect(settler.unclaimed(4n, A)).toBe(1);
    // A tops up; the view shows it; the held call is claimed.
    balances.set(`4:${A}`, balances.get(`4:${A}`)! + 100n);
    state.escrows.get(`4:${A}`)!.balance = 105n;
    const second = await settler.claimNow();
    expect(second.claims[0]).toMatchObject({ calls: 1, paid: 1 });
    expect(second.pending).toBe(0);
    expect(escrow.sent.map((s) => s.calls.length)).toEqual([2, 1]);
    expect(results).toEqual([["paid", 1], ["insufficient-balance", 1], ["paid", 1]]);
    await settler.stop();
  });

  it("holds calls the view says the escrow cannot pay, without sending them", async () => {
    const state = chainState();
    const { ledger, make, escrow } = await setup(state, new Map([[`4:${A}`, 25n]]));
    const settler = make();
    await settler.start();
    for (let i = 0; i < 3; i++) ledger.append(served("4", A)); // 25 covers two
    const round = await settler.claimNow();
    expect(escrow.sent[0]!.calls).toHaveLength(2);
    expect(round).toMatchObject({ pending: 1, held: 1 });
    await settler.stop();
  });

  it("survives a restart: the offset and waiting calls come back, nothing is claimed twice or lost", async () => {
    const state = chainState();
    const { dir, ledger, make, escrow } = await setup(state, new Map([[`4:${B}`, 100n]]));
    const first = make();
    await first.start();
    for (let i = 0; i < 3; i++) ledger.append(served("4", B));
    await first.stop();
    // Records written while no settler ran are picked up too.
    ledger.append(served("4", B));
    ledger.append(served("5", B));
    await ledger.flush();
    const saved = JSON.parse(readFileSync(join(dir, "usage-claims-31337.json"), "utf8")) as { offset: number; pending: unknown[] };
    expect(saved.pending).toHaveLength(0); // `stop` before any round: the ledger was not read yet
    const second = make();
    await second.start();
    expect(second.status().pending).toBe(4);
    expect(second.unclaimed(4n, B)).toBe(4);
    await second.claimNow();
    await second.stop();
    const third = make();
    await third.start();
    expect(third.status().pending).toBe(0);
    expect(escrow.sent.flatMap((s) => s.calls)).toHaveLength(4);
    await third.stop();
  });

  it("drops calls that turned stale instead of paying gas for a refusal", async () => {
    const state = chainState();
    const { ledger, make, escrow, results } = await setup(state, new Map([[`4:${B}`, 100n]]));
    const settler = make();
    await settler.start();
    ledger.append(served("4", B, { expiry: NOW_S - 7 * 86_400 - 1 }));
    const round = await settler.claimNow();
    expect(round).toMatchObject({ claims: [], dropped: { stale: 1 }, pending: 0 });
    expect(escrow.sent).toEqual([]);
    expect(results).toEqual([["dropped-stale", 1]]);
    await settler.stop();
  });

  it("keeps every call when the claim transaction fails, and reports the error", async () => {
    const state = chainState();
    const { ledger, dir } = await setup(state);
    const settler = new UsageSettler({
      ledger,
      chain: {} as DsmpChainClient,
      state: () => state,
      chainNow: () => NOW_S,
      stateFile: join(dir, "other-claims.json"),
      claimWindowSeconds: 7 * 86_400,
      auto: false,
      claim: async () => {
        throw new Error("UsageEscrowNotServingNode(4, 0x…)");
      },
    });
    await settler.start();
    ledger.append(served("4", B));
    const round = await settler.claimNow();
    expect(round.claims).toEqual([expect.objectContaining({ serviceId: "4", calls: 1, error: "UsageEscrowNotServingNode(4, 0x…)" })]);
    expect(round.pending).toBe(1);
    await settler.stop();
  });

  it("backs off after a failed claim instead of failing every round; a forced claim still goes at once", async () => {
    const state = chainState();
    const { ledger, dir } = await setup(state);
    let attempts = 0;
    const settler = new UsageSettler({
      ledger,
      chain: {} as DsmpChainClient,
      state: () => state,
      chainNow: () => NOW_S,
      stateFile: join(dir, "backoff-claims.json"),
      claimWindowSeconds: 7 * 86_400,
      checkIntervalMs: 10,
      maxDelayMs: 1_000,
      claim: async () => {
        attempts++;
        throw new Error("rpc down");
      },
    });
    ledger.append(served("4", B, { time: Date.now() - 5_000 })); // older than maxDelayMs: the age trigger fires
    await settler.start();
    await new Promise((r) => setTimeout(r, 400));
    // Rounds every 10 ms; claims at most after 10, 20, 40, 80, 160 ms of backoff: a handful, not ~40.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(7);
    const before = attempts;
    const forced = await settler.claimNow();
    expect(attempts).toBe(before + 1);
    expect(forced.claims[0]!.error).toBe("rpc down");
    await settler.stop();
  });

  it("runs no round after stop, not even one scheduled by the round in progress when stop was called", async () => {
    const state = chainState();
    const { ledger, dir } = await setup(state);
    let rounds = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const claiming = new Promise<void>((r) => (entered = r));
    const settler = new UsageSettler({
      ledger,
      chain: {} as DsmpChainClient,
      state: () => (rounds++, state), // read once per round
      chainNow: () => NOW_S,
      stateFile: join(dir, "stop-claims.json"),
      claimWindowSeconds: 7 * 86_400,
      checkIntervalMs: 10,
      maxDelayMs: 1_000,
      claim: async () => {
        entered();
        await gate; // a claim in flight when stop is called
        throw new Error("late");
      },
    });
    ledger.append(served("4", B, { time: Date.now() - 5_000 }));
    await settler.start();
    await claiming;
    const stopped = settler.stop();
    release();
    await stopped;
    const atStop = rounds;
    await new Promise((r) => setTimeout(r, 200));
    expect(rounds).toBe(atStop);
  });
});
