/**
 * JSON with bigints as decimal strings — the form every DSMP JSON output uses (control API, `--json`,
 * deployment files), since amounts and ids overflow JavaScript numbers.
 */

/** `JSON.stringify` replacer turning bigints into decimal strings. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** JSON text of `value` with bigints as decimal strings; `indent` as in `JSON.stringify`. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, bigintReplacer, indent);
}
