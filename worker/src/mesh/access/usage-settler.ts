/**
 * The provider's per-call settlement loop: follows the usage ledger, keeps the calls of per-call services
 * that are not paid yet, and claims them from UsageEscrow with the node's key when claim-planner.ts says so.
 *
 * Durable state: `<dataDir>/usage-claims-<chainId>.json` holds the ledger offset read so far and the calls
 * still waiting, rewritten atomically after each change. A crash between a mined claim and that write only
 * means the same calls are claimed again and come back `already-paid` (gas, no money lost).
 *
 * Which served calls are claimed: a verified token (consumer, nonce, expiry, signature), a backend status
 * below 500 (a provider's own failure is not billed), a consumer other than the service owner (owners call
 * their services free), and a service priced per call in the chain view when the record is read.
 *
 * `unclaimed(serviceId, consumer)` — calls served and not yet settled — feeds the access policy's escrow
 * check, so one provider does not serve a consumer more calls than its escrow can pay.
 */
import { rename, writeFile, readFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { abis } from "@dsmp/contracts";
import type { Address } from "viem";
import type { DsmpChainClient } from "../../chain/chain-client.ts";
import type { DsmpState } from "../../chain/dsmp-state.ts";
import { claimUsage, type ClaimUsageReturnType, type UsageCall } from "../../chain/actions/claim-usage.ts";
import { requireUsageEscrow } from "../../chain/actions/usage-escrow-address.ts";
import { readChain } from "../../chain/transactions.ts";
import { createSilentLogger, type Logger } from "../../log.ts";
import { planClaims, type ClaimTrigger, type PendingCall } from "./claim-planner.ts";
import type { UsageLedger, UsageRecord } from "./usage-ledger.ts";

/** Claim a service's calls at the latest this long after the oldest was served: 10 minutes. */
export const DEFAULT_CLAIM_MAX_DELAY_MS = 10 * 60_000;
/** How often the settler reads the ledger and plans: 5 s. */
export const DEFAULT_CLAIM_CHECK_INTERVAL_MS = 5_000;
/** Claim when a call gets within an hour of turning stale. */
export const DEFAULT_CLAIM_EXPIRING_WITHIN_SECONDS = 3_600;
/** Calls kept waiting at most; beyond, the oldest are dropped (and counted). */
export const MAX_PENDING_CALLS = 200_000;

const STATE_VERSION = 1;

interface SettlerFile {
  version: number;
  /** Byte offset of the usage ledger read so far. */
  offset: number;
  pending: PendingCall[];
}

export interface ClaimResult {
  serviceId: string;
  trigger: ClaimTrigger;
  calls: number;
  /** Set when the transaction was mined. */
  hash?: string | undefined;
  paid?: number | undefined;
  rejected?: Record<string, number> | undefined;
  /** Operator amount + fee, wei (decimal string). */
  gross?: string | undefined;
  gasUsed?: string | undefined;
  /** Set when the claim failed (nothing was settled; the calls stay pending). */
  error?: string | undefined;
}

export interface SettlementRound {
  claims: ClaimResult[];
  dropped: { stale: number };
  /** Calls still waiting after the round. */
  pending: number;
  /** Of those, held for lack of escrow. */
  held: number;
}

export interface UsageSettlerMetrics {
  callResult?: (result: string, count: number) => void;
  claimSent?: (outcome: "mined" | "failed", trigger: ClaimTrigger) => void;
  claimedTokens?: (gross: bigint) => void;
  unclaimed?: (count: number) => void;
}

export interface UsageSettlerInit {
  ledger: UsageLedger;
  /** A chain client whose account is the node key (the claimer). */
  chain: DsmpChainClient;
  /** The chain view's state. */
  state: () => DsmpState;
  /** Chain time, unix seconds (the later of the wall clock and the newest block seen). */
  chainNow: () => number;
  stateFile: string;
  /** @default {@link DEFAULT_CLAIM_MAX_DELAY_MS} */
  maxDelayMs?: number | undefined;
  /** @default {@link DEFAULT_CLAIM_CHECK_INTERVAL_MS} */
  checkIntervalMs?: number | undefined;
  /** @default {@link DEFAULT_CLAIM_EXPIRING_WITHIN_SECONDS} */
  expiringWithinSeconds?: number | undefined;
  /** Claim automatically; `false` claims only when asked (`claimNow`). @default true */
  auto?: boolean | undefined;
  logger?: Logger | undefined;
  metrics?: UsageSettlerMetrics | undefined;
  /** UsageEscrow.claimWindow in seconds; read from the chain when absent. */
  claimWindowSeconds?: number | undefined;
  /** Replaces the chain call (tests). */
  claim?: ((serviceId: bigint, calls: UsageCall[], signal: AbortSignal) => Promise<ClaimUsageReturnType>) | undefined;
}

const key = (serviceId: string, consumer: string) => `${serviceId}:${consumer.toLowerCase()}`;

export class UsageSettler {
  readonly #init: UsageSettlerInit;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #offset = 0;
  #pending: PendingCall[] = [];
  #known = new Set<string>();
  /** Pending calls per `serviceId:consumer`. */
  #counts = new Map<string, number>();
  /** Calls allowed and not yet read back from the ledger (in flight, or served since the last read), per `serviceId:consumer`. */
  #recent = new Map<string, number>();
  #claimWindow = 0;
  #round: Promise<SettlementRound> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #held = 0;
  #dirty = false;
  /** Consecutive failed claims, and when automatic rounds may claim again. */
  #failures = 0;
  #retryAt = 0;
  #stopped = false;

  constructor(init: UsageSettlerInit) {
    this.#init = init;
    this.#log = (init.logger ?? createSilentLogger()).child({ module: "usage-settler" });
  }

  /** Load the state file, read the claim window from the chain, catch up with the ledger, start the loop. */
  async start(): Promise<void> {
    const saved = await readState(this.#init.stateFile);
    this.#offset = saved.offset;
    for (const call of saved.pending) this.#add(call);
    if (this.#init.claimWindowSeconds !== undefined) this.#claimWindow = this.#init.claimWindowSeconds;
    else {
      const escrow = requireUsageEscrow(this.#init.chain);
      this.#claimWindow = Number(
        await readChain(this.#init.chain, (pub) => pub.readContract({ address: escrow, abi: abis.UsageEscrow, functionName: "claimWindow" })),
      );
    }
    await this.#ingest();
    await this.#save();
    if (this.#init.auto !== false) this.#schedule();
  }

  /** Calls of (service, consumer) this node served and has not been paid for yet. */
  unclaimed(serviceId: bigint, consumer: Address): number {
    const k = key(serviceId.toString(), consumer);
    return (this.#counts.get(k) ?? 0) + (this.#recent.get(k) ?? 0);
  }

  /**
   * Count a call from the moment it is allowed, before it is served and long before the ledger has it, so
   * `unclaimed` covers calls in flight too (N concurrent requests cannot all pass an escrow check for one).
   * Every reservation ends either in a ledger record (which the next ledger read balances) or in {@link release}.
   */
  reserve(serviceId: bigint, consumer: Address): void {
    const k = key(serviceId.toString(), consumer);
    this.#recent.set(k, (this.#recent.get(k) ?? 0) + 1);
  }

  /** The reserved call ended without a response (failure, reset, deadline): nothing will be recorded for it. */
  release(serviceId: bigint, consumer: Address): void {
    const k = key(serviceId.toString(), consumer);
    const n = (this.#recent.get(k) ?? 0) - 1;
    if (n > 0) this.#recent.set(k, n);
    else this.#recent.delete(k);
  }

  status(): { pending: number; held: number; ledgerOffset: number } {
    return { pending: this.#known.size, held: this.#held, ledgerOffset: this.#offset };
  }

  /** One round now, claiming every claimable call (`dsmp usage claim`); waits for a round in progress first. */
  async claimNow(): Promise<SettlementRound> {
    while (this.#round !== undefined) await this.#round.catch(() => undefined);
    return this.#run(true);
  }

  /** Stop the loop and wait for a claim in flight (its receipt wait is interrupted after `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true; // before waiting: the round in progress must not schedule another
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const round = this.#round;
    if (round !== undefined) {
      const grace = setTimeout(() => this.#stop.abort(new Error("usage settler stopping")), graceMs);
      await round.catch(() => undefined);
      clearTimeout(grace);
    }
    this.#stop.abort(new Error("usage settler stopped"));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      // An operator's `claimNow` may be running: never two rounds at once (they would send the same calls).
      if (this.#round !== undefined) return this.#schedule();
      this.#run(false)
        .catch((err: unknown) => this.#log.warn({ err }, "settlement round failed; next round retries"))
        .finally(() => this.#schedule());
    }, this.#init.checkIntervalMs ?? DEFAULT_CLAIM_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  #run(force: boolean): Promise<SettlementRound> {
    const round = this.#roundOnce(force).finally(() => {
      if (this.#round === round) this.#round = undefined;
    });
    this.#round = round;
    return round;
  }

  async #roundOnce(force: boolean): Promise<SettlementRound> {
    await this.#ingest();
    this.#compact();
    const plan = planClaims({
      pending: this.#pending,
      state: this.#init.state(),
      nowSeconds: this.#init.chainNow(),
      nowMs: Date.now(),
      claimWindowSeconds: this.#claimWindow,
      maxDelayMs: this.#init.maxDelayMs ?? DEFAULT_CLAIM_MAX_DELAY_MS,
      expiringWithinSeconds: this.#init.expiringWithinSeconds ?? DEFAULT_CLAIM_EXPIRING_WITHIN_SECONDS,
      force,
    });
    this.#held = plan.held.length;
    const dropped = { stale: 0 };
    for (const { call, reason } of plan.dropped) {
      dropped[reason]++;
      this.#remove(call);
    }
    for (const [reason, n] of Object.entries(dropped)) if (n > 0) this.#init.metrics?.callResult?.(`dropped-${reason}`, n);
    if (plan.dropped.length > 0) this.#log.info({ dropped }, "unclaimable usage calls dropped");
    const claims: ClaimResult[] = [];
    // After a failed claim, automatic rounds wait (5 s, doubling to maxDelayMs) rather than fail every round.
    const backingOff = !force && Date.now() < this.#retryAt;
    for (const batch of backingOff ? [] : plan.batches) {
      if (this.#stop.signal.aborted) break;
      const result = await this.#claim(batch.serviceId, batch.calls, batch.trigger);
      claims.push(result);
      if (result.error !== undefined) {
        this.#failures++;
        const maxDelay = this.#init.maxDelayMs ?? DEFAULT_CLAIM_MAX_DELAY_MS;
        this.#retryAt = Date.now() + Math.min(maxDelay, (this.#init.checkIntervalMs ?? DEFAULT_CLAIM_CHECK_INTERVAL_MS) * 2 ** (this.#failures - 1));
        break;
      }
      this.#failures = 0;
      this.#retryAt = 0;
    }
    if (plan.dropped.length > 0 || claims.length > 0) await this.#save();
    this.#init.metrics?.unclaimed?.(this.#known.size);
    return { claims, dropped, pending: this.#known.size, held: this.#held };
  }

  async #claim(serviceId: bigint, calls: PendingCall[], trigger: ClaimTrigger): Promise<ClaimResult> {
    const id = serviceId.toString();
    const wire: UsageCall[] = calls.map((c) => ({ consumer: c.consumer, expiry: c.expiry, nonce: c.nonce, signature: c.signature }));
    let result: ClaimUsageReturnType;
    try {
      result = this.#init.claim !== undefined
        ? await this.#init.claim(serviceId, wire, this.#stop.signal)
        : await claimUsage(this.#init.chain, { serviceId, calls: wire, signal: this.#stop.signal });
    } catch (err) {
      this.#init.metrics?.claimSent?.("failed", trigger);
      this.#log.warn({ err, serviceId: id, calls: calls.length }, "usage claim failed; the calls stay pending");
      return { serviceId: id, trigger, calls: calls.length, error: (err as Error).message };
    }
    this.#init.metrics?.claimSent?.("mined", trigger);
    // Settled: paid, or refused for good. No escrow / too little stays pending: a deposit may follow.
    const retry = new Set(result.rejected.filter((r) => r.reason === "no-escrow" || r.reason === "insufficient-balance").map((r) => r.nonce.toLowerCase()));
    for (const call of calls) if (!retry.has(call.nonce.toLowerCase())) this.#remove(call);
    const rejected: Record<string, number> = {};
    for (const r of result.rejected) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
    const gross = result.operatorAmount + result.fee;
    if (result.paid.length > 0) this.#init.metrics?.callResult?.("paid", result.paid.length);
    for (const [reason, n] of Object.entries(rejected)) this.#init.metrics?.callResult?.(reason, n);
    this.#init.metrics?.claimedTokens?.(gross);
    this.#log.info({ serviceId: id, trigger, hash: result.hash, paid: result.paid.length, rejected, gross: gross.toString() }, "usage claimed");
    return {
      serviceId: id,
      trigger,
      calls: calls.length,
      hash: result.hash,
      paid: result.paid.length,
      rejected,
      gross: gross.toString(),
      gasUsed: result.gasUsed.toString(),
    };
  }

  /** Read the ledger up to its end, one bounded chunk at a time. */
  async #ingest(): Promise<void> {
    for (;;) {
      const before = this.#offset;
      await this.#ingestChunk();
      if (this.#offset === before) return;
    }
  }

  async #ingestChunk(): Promise<void> {
    const { records, offset } = await this.#init.ledger.readSince(this.#offset);
    const state = this.#init.state();
    for (const record of records) {
      if (record.consumer !== null) {
        const k = key(record.serviceId, record.consumer);
        const recent = this.#recent.get(k) ?? 0;
        if (recent > 1) this.#recent.set(k, recent - 1);
        else this.#recent.delete(k);
      }
      const call = claimableCall(record, state);
      if (call !== undefined) this.#add(call);
    }
    this.#offset = offset;
    if (records.length > 0) await this.#save();
  }

  #add(call: PendingCall): void {
    const k = `${call.consumer}:${call.nonce}`.toLowerCase();
    if (this.#known.has(k)) return;
    if (this.#known.size >= MAX_PENDING_CALLS) {
      this.#compact();
      const oldest = this.#pending.shift()!; // #remove un-counts it; it is already out of #pending
      this.#remove(oldest);
      this.#init.metrics?.callResult?.("dropped-overflow", 1);
      this.#log.warn({ serviceId: oldest.serviceId }, `more than ${MAX_PENDING_CALLS} calls waiting to be claimed: the oldest was dropped`);
    }
    this.#known.add(k);
    this.#pending.push(call);
    const c = key(call.serviceId, call.consumer);
    this.#counts.set(c, (this.#counts.get(c) ?? 0) + 1);
  }

  #remove(call: PendingCall): void {
    const k = `${call.consumer}:${call.nonce}`.toLowerCase();
    if (!this.#known.delete(k)) return;
    this.#dirty = true;
    const c = key(call.serviceId, call.consumer);
    const n = (this.#counts.get(c) ?? 1) - 1;
    if (n > 0) this.#counts.set(c, n);
    else this.#counts.delete(c);
  }

  /** Drop removed calls from `#pending` (removal only marks them, so a batch of removals costs one pass). */
  #compact(): void {
    if (!this.#dirty) return;
    this.#pending = this.#pending.filter((c) => this.#known.has(`${c.consumer}:${c.nonce}`.toLowerCase()));
    this.#dirty = false;
  }

  async #save(): Promise<void> {
    this.#compact();
    const file: SettlerFile = { version: STATE_VERSION, offset: this.#offset, pending: this.#pending };
    const tmp = `${this.#init.stateFile}.tmp`;
    await mkdir(dirname(this.#init.stateFile), { recursive: true, mode: 0o700 });
    await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
    await rename(tmp, this.#init.stateFile);
  }
}

/** The pending call a ledger record stands for, or `undefined` when it is not billable per call. */
export function claimableCall(record: UsageRecord, state: DsmpState): PendingCall | undefined {
  if (record.consumer === null || record.nonce === null || record.expiry === null || record.signature === null) return undefined;
  if (record.status >= 500) return undefined;
  let id: bigint;
  try {
    id = BigInt(record.serviceId);
  } catch {
    return undefined;
  }
  const service = state.services.get(id);
  if (service === undefined || service.pricing.perCall === 0n) return undefined;
  if (service.owner.toLowerCase() === record.consumer.toLowerCase()) return undefined;
  return {
    serviceId: record.serviceId,
    consumer: record.consumer.toLowerCase() as Address,
    expiry: record.expiry,
    nonce: record.nonce,
    signature: record.signature,
    servedAt: record.time,
  };
}

async function readState(file: string): Promise<SettlerFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: STATE_VERSION, offset: 0, pending: [] };
    throw err;
  }
  const parsed = JSON.parse(text) as SettlerFile;
  if (parsed.version !== STATE_VERSION || !Number.isSafeInteger(parsed.offset) || !Array.isArray(parsed.pending)) {
    throw new Error(`${file}: not a usage settler state file (version ${String(parsed.version)})`);
  }
  return parsed;
}
