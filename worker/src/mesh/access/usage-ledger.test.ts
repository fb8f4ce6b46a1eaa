import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "node:fs/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { waitFor } from "../../discovery/discovery-network.fixture.ts";
import { READ_SINCE_MAX_BYTES, UsageLedger, type UsageRecord } from "./usage-ledger.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "dsmp-usage-"));
  dirs.push(dir);
  return join(dir, "sub", "usage-31337.jsonl");
}

const record = (i: number, over: Partial<UsageRecord> = {}): UsageRecord => ({
  serviceId: String(1 + (i % 2)),
  consumer: i % 2 === 0 ? null : "0x00000000000000000000000000000000000000c1",
  provider: "0x00000000000000000000000000000000000000a1",
  time: 1_800_000_000_000 + i,
  status: 200,
  requestBytes: i,
  responseBytes: 2 * i,
  durationMs: 1.5,
  nonce: i % 2 === 0 ? null : `0x${i.toString(16).padStart(64, "0")}`,
  expiry: i % 2 === 0 ? null : 1_800_000_060,
  signature: i % 2 === 0 ? null : `0x${"ab".repeat(65)}`,
  ...over,
});

describe("UsageLedger", () => {
  it("appends, survives a reopen, filters and returns newest first", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    for (let i = 0; i < 10; i++) ledger.append(record(i));
    await ledger.close();
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(10);

    const again = await UsageLedger.open(file);
    expect(again.summary().get("2")).toEqual({ calls: 5, requestBytes: 1 + 3 + 5 + 7 + 9, responseBytes: 2 * 25 });
    again.append(record(10));
    const all = await again.query({ limit: 3 });
    expect(all.total).toBe(11);
    expect(all.records.map((r) => r.time % 1000)).toEqual([10, 9, 8]);
    const paid = await again.query({ serviceId: "2", consumer: "0x00000000000000000000000000000000000000C1" });
    expect(paid.total).toBe(5);
    expect(paid.records.every((r) => r.serviceId === "2" && r.signature !== null)).toBe(true);
    await again.close();
  });

  it("cuts a record torn by a crash and keeps the rest", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    ledger.append(record(1));
    ledger.append(record(3));
    await ledger.close();
    appendFileSync(file, '{"serviceId":"2","cons');
    const again = await UsageLedger.open(file);
    again.append(record(5));
    const { records, total } = await again.query();
    expect(total).toBe(3);
    expect(records.map((r) => r.requestBytes)).toEqual([5, 3, 1]);
    await again.close();
  });

  it("syncs batches that hold a token record; token-less (free) calls are written and synced by flush, not each batch", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    // The FileHandle class is not exported: take its prototype from a handle.
    const probe = await open(join(file, ".."), "r");
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync(): Promise<void> }, "datasync");
    await probe.close();
    try {
      const free = (i: number) => record(2 * i); // even: no consumer, no token
      for (let i = 0; i < 20; i++) {
        ledger.append(free(i));
        await new Promise((r) => setImmediate(r)); // one batch each
      }
      const lines = (): number => readFileSync(file, "utf8").trim().split("\n").filter(Boolean).length;
      await waitFor("the 20 records to be written", () => lines() === 20 || undefined, { timeoutMs: 5_000, intervalMs: 5 });
      expect(lines()).toBe(20); // written
      expect(datasync).not.toHaveBeenCalled();
      await ledger.flush();
      expect(datasync).toHaveBeenCalledTimes(1); // flush keeps its promise: on disk
      ledger.append(record(1)); // with a token
      await ledger.flush();
      expect(datasync).toHaveBeenCalledTimes(2);
    } finally {
      datasync.mockRestore();
      await ledger.close();
    }
  });

  it("batches concurrent appends and loses none", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    for (let i = 0; i < 500; i++) ledger.append(record(i));
    await ledger.flush();
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(500);
    expect((await ledger.query({ limit: 0 })).total).toBe(500);
    await ledger.close();
    await ledger.close(); // idempotent
  });

  it("readSince follows the file from an offset, across a reopen, and never returns half a line", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    for (let i = 0; i < 3; i++) ledger.append(record(i));
    const first = await ledger.readSince(0);
    expect(first.records.map((r) => r.requestBytes)).toEqual([0, 1, 2]);
    expect(first.offset).toBe(readFileSync(file).length);
    expect(await ledger.readSince(first.offset)).toEqual({ records: [], offset: first.offset });
    ledger.append(record(3, { consumer: "0x00000000000000000000000000000000000000c2", serviceId: "9" }));
    await ledger.close();

    // A line still being written (no newline yet) is left for the next read.
    appendFileSync(file, '{"serviceId":"1","consu');
    const reader = await UsageLedger.open(file); // cuts the torn line
    appendFileSync(file, JSON.stringify(record(4)) + "\n" + '{"partial":');
    const second = await reader.readSince(first.offset);
    expect(second.records.map((r) => [r.requestBytes, r.serviceId])).toEqual([
      [3, "9"],
      [4, "1"],
    ]);
    expect(second.offset).toBe(readFileSync(file, "utf8").lastIndexOf("\n") + 1);
    await reader.close();
  });

  it("readSince reads a long backlog in bounded chunks, losing and repeating nothing", async () => {
    const file = tempFile();
    const ledger = await UsageLedger.open(file);
    const count = 15_000; // ~5 MiB of records: more than one chunk
    for (let i = 0; i < count; i++) ledger.append(record(i, { requestBytes: i }));
    await ledger.flush();
    const size = readFileSync(file).length;
    expect(size).toBeGreaterThan(READ_SINCE_MAX_BYTES);
    const seen: number[] = [];
    let offset = 0;
    let reads = 0;
    for (;;) {
      const next = await ledger.readSince(offset);
      if (next.offset === offset) break;
      expect(next.offset - offset).toBeLessThanOrEqual(READ_SINCE_MAX_BYTES);
      seen.push(...next.records.map((r) => r.requestBytes));
      offset = next.offset;
      reads++;
    }
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(offset).toBe(size);
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
    await ledger.close();
  });
});
