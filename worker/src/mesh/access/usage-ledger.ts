/**
 * The provider's per-call usage ledger: one record per call it served (allowed and answered), appended to a
 * JSON-lines file in the node's data directory (`usage-<chainId>.jsonl`).
 *
 * Why a file and not a Redis stream: the records are the provider's evidence for per-call settlement (each
 * paid call carries the consumer's signed token), so they must outlive the process and the machine's Redis,
 * which on our hosts keeps nothing on disk; the data directory already holds the node's other durable state
 * (keystore, chain view journal). Appends are batched: records queued while a write is in flight go out
 * together, and a batch holding a record with a token (the evidence settlement needs) is followed by
 * `fdatasync`, so a burst costs one sync and a crash loses at most the batch being written. Batches of
 * token-less records only (open services: usage statistics, never settled) are written without a sync of
 * their own — the next synced batch or `flush()` syncs them — so free calls do not pay a disk sync each.
 * A torn last line (crash mid-write) is cut off when the ledger is opened.
 *
 * Queries scan the file (fine for a node's own history; the observability work aggregates from `summary()`,
 * kept in memory).
 */
import { createReadStream } from "node:fs";
import { mkdir, open, stat, truncate, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import type { Address, Hex } from "viem";
import { createSilentLogger, type Logger } from "../../log.ts";

/** One served call. Token fields are `null` for open (public, free) services called without a token. */
export interface UsageRecord {
  /** Service id, decimal. */
  serviceId: string;
  /** Consumer address from the verified token, lowercase; `null` without token. */
  consumer: Address | null;
  /** Address of the provider node that served the call. */
  provider: Address;
  /** Unix milliseconds when the call finished. */
  time: number;
  /** HTTP status the backend answered. */
  status: number;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
  /** The token's nonce, expiry (unix s) and signature: with chainId and registry, what settlement verifies. */
  nonce: Hex | null;
  expiry: number | null;
  signature: Hex | null;
}

export interface UsageQuery {
  serviceId?: string | undefined;
  consumer?: Address | undefined;
  /** Newest records returned at most. @default {@link DEFAULT_USAGE_QUERY_LIMIT} */
  limit?: number | undefined;
}

/** Records a query returns by default: 100. */
export const DEFAULT_USAGE_QUERY_LIMIT = 100;
/** Bytes `readSince` reads at most per call: 4 MiB, ~10 000 records. */
export const READ_SINCE_MAX_BYTES = 4 * 1024 * 1024;
/** Records a query may return at most: 10 000 (~3 MB of JSON). */
export const MAX_USAGE_QUERY_LIMIT = 10_000;

export interface ServiceUsage {
  calls: number;
  requestBytes: number;
  responseBytes: number;
}

export class UsageLedger {
  readonly file: string;
  readonly #handle: FileHandle;
  readonly #log: Logger;
  readonly #summary = new Map<string, ServiceUsage>();
  #queue: string[] = [];
  /** The queue holds a record with a token: its batch must be synced. */
  #queueNeedsSync = false;
  /** Written but not synced yet (token-less batches). */
  #unsynced = false;
  #writing: Promise<void> | undefined;
  #closed = false;

  private constructor(file: string, handle: FileHandle, log: Logger) {
    this.file = file;
    this.#handle = handle;
    this.#log = log;
  }

  /** Open (or create) the ledger, cut a torn last line, and load the per-service summary. */
  static async open(file: string, options: { logger?: Logger | undefined } = {}): Promise<UsageLedger> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await repairTail(file);
    const ledger = new UsageLedger(file, await open(file, "a", 0o600), (options.logger ?? createSilentLogger()).child({ module: "usage-ledger" }));
    for await (const record of readRecords(file)) ledger.#count(record);
    return ledger;
  }

  /** Queue one record; it is on disk once `flush()` resolves. */
  append(record: UsageRecord): void {
    if (this.#closed) {
      this.#log.warn({ serviceId: record.serviceId }, "usage record after close dropped");
      return;
    }
    this.#count(record);
    this.#queue.push(`${JSON.stringify(record)}\n`);
    if (record.signature !== null) this.#queueNeedsSync = true;
    this.#writing ??= this.#drain();
  }

  /** Resolves when every record appended so far is written and synced. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#unsynced && !this.#closed) {
      this.#unsynced = false;
      await this.#handle.datasync().catch((error: unknown) => this.#log.error({ err: error, file: this.file }, "syncing usage records failed"));
    }
  }

  /** Calls and bytes per service since the ledger began. */
  summary(): Map<string, ServiceUsage> {
    return new Map([...this.#summary].map(([k, v]) => [k, { ...v }]));
  }

  /** Matching records, newest first, and how many matched in all. */
  async query(query: UsageQuery = {}): Promise<{ records: UsageRecord[]; total: number }> {
    await this.flush();
    const limit = Math.min(Math.max(query.limit ?? DEFAULT_USAGE_QUERY_LIMIT, 0), MAX_USAGE_QUERY_LIMIT);
    const consumer = query.consumer?.toLowerCase();
    const newest: UsageRecord[] = [];
    let total = 0;
    for await (const record of readRecords(this.file)) {
      if (query.serviceId !== undefined && record.serviceId !== query.serviceId) continue;
      if (consumer !== undefined && record.consumer !== consumer) continue;
      total++;
      newest.push(record);
      if (newest.length > limit) newest.shift();
    }
    return { records: newest.reverse(), total };
  }

  /**
   * Records appended after byte `offset` of the file (0 = from the start), in order, and the offset to pass
   * next time: at most {@link READ_SINCE_MAX_BYTES} per call, so a long backlog is read over several calls
   * with bounded memory. Used by the usage settler to follow the ledger across restarts.
   */
  async readSince(offset: number): Promise<{ records: UsageRecord[]; offset: number }> {
    await this.flush();
    const size = (await stat(this.file)).size;
    if (size <= offset) return { records: [], offset: Math.min(offset, size) };
    const handle = await open(this.file, "r");
    let chunk: Buffer;
    let next: number;
    try {
      const buffer = Buffer.alloc(Math.min(size - offset, READ_SINCE_MAX_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
      // A "line" longer than the whole window is not a record: skip it rather than stall on it forever.
      next = end === 0 && bytesRead === READ_SINCE_MAX_BYTES ? offset + bytesRead : offset + end;
      chunk = buffer.subarray(0, end);
    } finally {
      await handle.close();
    }
    const records: UsageRecord[] = [];
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line === "") continue;
      try {
        records.push(JSON.parse(line) as UsageRecord);
      } catch {
        // A damaged line is skipped, as in queries.
      }
    }
    return { records, offset: next };
  }

  /** Write what is queued, then close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#handle.close();
  }

  #count(record: UsageRecord): void {
    const s = this.#summary.get(record.serviceId) ?? { calls: 0, requestBytes: 0, responseBytes: 0 };
    s.calls++;
    s.requestBytes += record.requestBytes;
    s.responseBytes += record.responseBytes;
    this.#summary.set(record.serviceId, s);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.join("");
        const sync = this.#queueNeedsSync;
        this.#queue = [];
        this.#queueNeedsSync = false;
        try {
          await this.#handle.write(batch);
          if (sync) {
            this.#unsynced = false;
            await this.#handle.datasync();
          } else {
            this.#unsynced = true;
          }
        } catch (error) {
          this.#log.error({ err: error, file: this.file }, "writing usage records failed");
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}

/** Cut everything after the last newline: a record cut short by a crash. */
async function repairTail(file: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return;
  }
  if (size === 0) return;
  const handle = await open(file, "r");
  try {
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - tail.length);
      const { bytesRead } = await handle.read(tail, 0, end - start, start);
      const at = tail.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) {
        end = start + at + 1;
        break;
      }
      end = start;
    }
    if (end !== size) await truncate(file, end);
  } finally {
    await handle.close();
  }
}

async function* readRecords(file: string): AsyncGenerator<UsageRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === "") continue;
    try {
      yield JSON.parse(line) as UsageRecord;
    } catch {
      // A damaged line is skipped: one bad record must not hide the rest.
    }
  }
}
