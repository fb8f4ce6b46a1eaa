/**
 * Chain view indexer: follows the DSMP contracts' events with a confirmation depth, survives reorgs, answers
 * from memory (the reducer's state) and resumes from its journal file after a restart.
 *
 * Each `sync()`:
 *  1. reads the head; the target is `head - confirmations`;
 *  2. checks that the journal's tip is still on the canonical chain; if not, walks back over the blocks it
 *     knows (every block with events) to the newest one whose hash still matches, rewinds there and emits
 *     `reorg` — so a reorg of any depth is repaired, not only those shallower than `confirmations`;
 *  3. fetches logs of the watched contracts in batches up to the target, decodes them with the ABIs, folds
 *     them into the state and persists the journal (write to a temp file, then rename).
 */
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseEventLogs, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { EventJournal, type IndexedEvent, type JournalSnapshot, type Reducer } from "./event-journal.ts";

export interface WatchedContract {
  name: string;
  address: Address;
  abi: Abi;
  /** Creation block: the indexer starts at the smallest of these. */
  fromBlock?: bigint;
}

export interface ChainIndexerInit<S> {
  client: Pick<PublicClient, "getBlockNumber" | "getBlock" | "getLogs">;
  contracts: WatchedContract[];
  reducer: Reducer<S>;
  /** Blocks behind the head before an event counts. 0 on a local devnet; a few on public chains. */
  confirmations?: number;
  /** Most blocks asked for in one eth_getLogs (providers cap ranges; 2 000 suits most). */
  batchSize?: number;
  /** How often `start()` polls the head. */
  pollIntervalMs?: number;
  /** Journal file: resume point across restarts. Omit to keep everything in memory only. */
  journalFile?: string;
  /** Called on errors while polling (the loop keeps going). */
  onError?: (err: unknown) => void;
}

export const INDEXER_DEFAULTS = {
  confirmations: 0,
  batchSize: 2_000,
  pollIntervalMs: 1_000,
} as const;

export interface ChainIndexerEvents {
  event: [IndexedEvent];
  reorg: [{ from: bigint; to: bigint }];
  synced: [{ block: bigint }];
}

export class ChainIndexer<S> extends EventEmitter<ChainIndexerEvents> {
  readonly journal: EventJournal<S>;
  private readonly init: ChainIndexerInit<S>;
  private readonly byAddress: Map<string, WatchedContract>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(init: ChainIndexerInit<S>) {
    super();
    this.init = init;
    this.byAddress = new Map(init.contracts.map((c) => [c.address.toLowerCase(), c]));
    const starts = init.contracts.map((c) => c.fromBlock).filter((b): b is bigint => b !== undefined);
    const startBlock =
      starts.length > 0 && starts.length === init.contracts.length ? starts.reduce((a, b) => (a < b ? a : b)) : 0n;
    this.journal = this.load(startBlock);
  }

  get state(): S {
    return this.journal.state;
  }

  /** Newest block whose events are in the state. */
  get syncedBlock(): bigint | undefined {
    return this.journal.tip?.number;
  }

  /** One round: reorg check, then catch up to head − confirmations. Returns the synced block. */
  async sync(signal?: AbortSignal): Promise<bigint | undefined> {
    const { client } = this.init;
    const confirmations = BigInt(this.init.confirmations ?? INDEXER_DEFAULTS.confirmations);
    const batch = BigInt(this.init.batchSize ?? INDEXER_DEFAULTS.batchSize);
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const target = head - confirmations;
    await this.repairReorg(signal);
    while (this.journal.nextBlock <= target) {
      signal?.throwIfAborted();
      const from = this.journal.nextBlock;
      const to = from + batch - 1n < target ? from + batch - 1n : target;
      // The end block is read before and after the logs: if its hash moved, a reorg raced this batch and
      // the logs may mix forks — drop the batch and let the next round repair and retry.
      const end = await client.getBlock({ blockNumber: to });
      const logs = await client.getLogs({ address: [...this.byAddress.values()].map((c) => c.address), fromBlock: from, toBlock: to });
      const endAfter = await client.getBlock({ blockNumber: to });
      if (endAfter.hash !== end.hash || logs.some((l) => l.blockNumber === to && l.blockHash !== end.hash)) break;
      const events = this.decode(logs);
      this.journal.ingest(events, to, end.hash);
      this.persist(); // after every batch: a long first sync that is interrupted resumes where it stopped
      for (const e of events) this.emit("event", e);
    }
    const synced = this.journal.tip?.number;
    if (synced !== undefined) this.emit("synced", { block: synced });
    return synced;
  }

  /** Polls until `stop()`. Errors go to `onError` and the next round retries. */
  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sync()
        .then(() => undefined)
        .catch((err: unknown) => this.init.onError?.(err))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.init.pollIntervalMs ?? INDEXER_DEFAULTS.pollIntervalMs);
        });
    };
    tick();
  }

  /** Stops polling and waits for a round in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Resolves once the state includes block `n` (or rejects when `signal` aborts). */
  async waitForBlock(n: bigint, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<void> {
    if ((this.syncedBlock ?? -1n) >= n) return;
    await new Promise<void>((resolve, reject) => {
      const onSynced = ({ block }: { block: bigint }) => {
        if (block >= n) {
          cleanup();
          resolve();
        }
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const cleanup = () => {
        this.off("synced", onSynced);
        signal.removeEventListener("abort", onAbort);
      };
      this.on("synced", onSynced);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private async repairReorg(signal?: AbortSignal): Promise<void> {
    const tip = this.journal.tip;
    if (!tip) return;
    if (await this.isCanonical(tip.number, tip.hash)) return;
    let base = this.journal.startBlock - 1n;
    for (const c of this.journal.knownBlocks()) {
      signal?.throwIfAborted();
      if (c === tip) continue;
      if (await this.isCanonical(c.number, c.hash)) {
        base = c.number;
        break;
      }
    }
    this.journal.rewindTo(base);
    this.persist();
    this.emit("reorg", { from: tip.number, to: base });
  }

  private async isCanonical(number: bigint, hash: Hex): Promise<boolean> {
    try {
      const block = await this.init.client.getBlock({ blockNumber: number });
      return block.hash === hash;
    } catch {
      return false; // the block no longer exists (chain got shorter)
    }
  }

  private decode(logs: Awaited<ReturnType<PublicClient["getLogs"]>>): IndexedEvent[] {
    const out: IndexedEvent[] = [];
    for (const log of logs) {
      const contract = this.byAddress.get(log.address.toLowerCase());
      if (!contract || log.blockNumber === null || log.blockHash === null || log.logIndex === null) continue;
      const [parsed] = parseEventLogs({ abi: contract.abi, logs: [log], strict: true });
      if (!parsed) continue; // an event not in our ABI (e.g. from an inherited contract we do not track)
      out.push({
        blockNumber: log.blockNumber,
        blockHash: log.blockHash,
        logIndex: log.logIndex,
        transactionHash: log.transactionHash!,
        address: contract.address,
        contract: contract.name,
        eventName: parsed.eventName,
        args: { ...(parsed.args as Record<string, unknown>) },
      });
    }
    out.sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));
    return out;
  }

  /** Identifies what the journal indexes: a journal of other contracts (a new deployment) is discarded. */
  private watchKey(): string {
    return this.init.contracts
      .map((c) => `${c.name}@${c.address.toLowerCase()}`)
      .sort()
      .join(",");
  }

  private load(startBlock: bigint): EventJournal<S> {
    const file = this.init.journalFile;
    if (file && existsSync(file)) {
      try {
        const saved = JSON.parse(readFileSync(file, "utf8")) as { watch: string; journal: JournalSnapshot };
        if (saved.watch === this.watchKey() && BigInt(saved.journal.startBlock) === startBlock) {
          return EventJournal.fromJSON(this.init.reducer, saved.journal);
        }
      } catch (err) {
        // A damaged journal is only a cache of the chain: start over rather than refuse to start.
        this.init.onError?.(new Error(`chain view journal ${file} is unreadable; re-indexing from block ${startBlock}`, { cause: err }));
      }
    }
    return new EventJournal(this.init.reducer, startBlock);
  }

  private persist(): void {
    const file = this.init.journalFile;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ watch: this.watchKey(), journal: this.journal.toJSON() }));
    renameSync(tmp, file);
  }
}
