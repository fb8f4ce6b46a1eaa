/**
 * The `--api` option of the commands that read a running node's control API (`dsmp network status`,
 * `service stat`, `usage claims`, `network proofs`, …): the flag, else `DSMP_API_URL`, else the default address.
 */
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from "../config.ts";
import { NodeUnreachableError } from "../errors.ts";
import type { CommandInput } from "./command-spec.ts";
import { parseHttpUrl } from "./value-parsers.ts";

export const CONTROL_API_OPTION = {
  name: "api",
  type: "string",
  value: "<url>",
  description: `control API (env DSMP_API_URL; default http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT})`,
} as const;

/**
 * The error for a control API answer that is not OK. A 404 whose body is a gateway's (`{"error":"not-found",…,
 * "serviceId":…}`) means the URL is a node's gateway port: say so. Else `notFound` for a 404 when given.
 */
export async function controlApiFailure(res: Response, api: string, notFound?: string): Promise<NodeUnreachableError> {
  const text = await res.text();
  if (res.status === 404) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (typeof body === "object" && body !== null && (body as { error?: unknown }).error === "not-found" && "serviceId" in body) {
      return new NodeUnreachableError(
        `${api} is a node's gateway, not its control API (another port, default ${DEFAULT_API_PORT}; \`dsmp node status\` prints both)`,
        { details: text },
      );
    }
    if (notFound !== undefined) return new NodeUnreachableError(notFound, { details: text });
  }
  return new NodeUnreachableError(`the control API at ${api} answered ${res.status}`, { details: text });
}

/** The control API's base URL, without a trailing slash. */
export function controlApiUrl(input: CommandInput): string {
  const text = input.string("api") ?? process.env.DSMP_API_URL ?? `http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT}`;
  return parseHttpUrl(text, input.string("api") === undefined ? "DSMP_API_URL" : "--api").replace(/\/+$/, "");
}
