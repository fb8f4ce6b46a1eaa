/**
 * Printing results: JSON for `--json` (bigints as decimal strings, one document per command), aligned tables
 * and `label  value` blocks for a terminal, tab-separated rows for a pipe (as `gh` does).
 */
import { toJson } from "../bigint-json.ts";
import type { CliIo } from "./cli-io.ts";

/** JSON text of `value` with bigints as decimal strings, indented for people. */
export function toJsonText(value: unknown): string {
  return toJson(value, 2);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${toJsonText(value)}\n`);
}

export function printLine(io: CliIo, text: string): void {
  io.stdout(`${text}\n`);
}

/** One column of a table: its header and how to render a row's cell. */
export interface TableColumn<Row> {
  header: string;
  cell(row: Row): string;
  /** Right-align (numbers). */
  alignRight?: boolean;
}

/**
 * Rows as a table: on a terminal, a header and columns padded to their widest cell; on a pipe, no header and
 * cells separated by tabs, one row per line.
 */
export function printTable<Row>(io: CliIo, columns: readonly TableColumn<Row>[], rows: readonly Row[]): void {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)));
  if (!io.isTTY) {
    for (const line of cells) io.stdout(`${line.join("\t")}\n`);
    return;
  }
  const header = columns.map((column) => column.header.toUpperCase());
  const widths = columns.map((_, i) => Math.max(header[i]!.length, ...cells.map((line) => line[i]!.length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (columns[i]!.alignRight === true ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  io.stdout(`${render(header)}\n`);
  for (const line of cells) io.stdout(`${render(line)}\n`);
}

/** `label  value` lines with the values aligned (a record's details). */
export function printFields(io: CliIo, fields: readonly (readonly [label: string, value: string])[]): void {
  const width = Math.max(...fields.map(([label]) => label.length));
  for (const [label, value] of fields) io.stdout(`${label.padEnd(width)}  ${value}\n`);
}
