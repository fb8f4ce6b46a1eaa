/**
 * The `--api` option of the commands that read a running node's control API (`dsmp network status`,
 * `service stat`, `usage claims`, `network proofs`, …): the flag, else `DSMP_API_URL`, else the default address.
 */
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from "../config.ts";
import type { CommandInput } from "./command-spec.ts";
import { parseHttpUrl } from "./value-parsers.ts";

export const CONTROL_API_OPTION = {
  name: "api",
  type: "string",
  value: "<url>",
  description: `control API (env DSMP_API_URL; default http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT})`,
} as const;

/** The control API's base URL, without a trailing slash. */
export function controlApiUrl(input: CommandInput): string {
  const text = input.string("api") ?? process.env.DSMP_API_URL ?? `http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT}`;
  return parseHttpUrl(text, input.string("api") === undefined ? "DSMP_API_URL" : "--api").replace(/\/+$/, "");
}
