/**
 * Records `gasUsed` of real transactions per `Contract.function`, and which state-changing functions of each
 * contract's ABI were never measured. Used by scripts/gas-report.ts.
 */
import type { Abi, AbiFunction, Hash, PublicClient } from "viem";

export interface GasStats {
  calls: number;
  min: bigint;
  max: bigint;
  total: bigint;
}

export class GasRecorder {
  readonly stats = new Map<string, GasStats>();
  private readonly client: Pick<PublicClient, "waitForTransactionReceipt">;
  constructor(client: Pick<PublicClient, "waitForTransactionReceipt">) {
    this.client = client;
  }

  /** Waits for `tx`, checks it succeeded, and records its gas under `${contract}.${fn}`. */
  async record(contract: string, fn: string, tx: Promise<Hash> | Hash): Promise<bigint> {
    const receipt = await this.client.waitForTransactionReceipt({ hash: await tx });
    if (receipt.status !== "success") throw new Error(`${contract}.${fn} reverted`);
    const key = `${contract}.${fn}`;
    const s = this.stats.get(key) ?? { calls: 0, min: receipt.gasUsed, max: receipt.gasUsed, total: 0n };
    s.calls += 1;
    s.total += receipt.gasUsed;
    if (receipt.gasUsed < s.min) s.min = receipt.gasUsed;
    if (receipt.gasUsed > s.max) s.max = receipt.gasUsed;
    this.stats.set(key, s);
    return receipt.gasUsed;
  }

  /** State-changing functions of `abi` that were never recorded for `contract`. */
  missing(contract: string, abi: Abi): string[] {
    return abi
      .filter((x): x is AbiFunction => x.type === "function")
      .filter((f) => f.stateMutability === "nonpayable" || f.stateMutability === "payable")
      .map((f) => f.name)
      .filter((name, i, all) => all.indexOf(name) === i)
      .filter((name) => !this.stats.has(`${contract}.${name}`));
  }

  /** A Markdown table: one row per function, sorted by contract then name. */
  table(): string {
    const rows = [...this.stats.entries()].sort(([a], [b]) => a.localeCompare(b));
    const lines = ["| function | calls | min | avg | max |", "| --- | ---: | ---: | ---: | ---: |"];
    for (const [key, s] of rows) {
      lines.push(`| \`${key}\` | ${s.calls} | ${s.min} | ${s.total / BigInt(s.calls)} | ${s.max} |`);
    }
    return lines.join("\n");
  }
}
