/**
 * The flags every command takes, and where their values come from: flag > environment > default.
 */
import { DEFAULT_RPC_URL } from "../config.ts";
import type { GlobalOptions, OptionSpec } from "./command-spec.ts";
import { parseHttpUrl, parsePrivateKey } from "./value-parsers.ts";

/** Environment variables the CLI reads. */
export const CLI_ENV = {
  rpcUrl: "DSMP_RPC_URL",
  deployment: "DSMP_DEPLOYMENT",
  privateKey: "DSMP_PRIVATE_KEY",
} as const;

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: "rpc-url", type: "string", value: "<url>", description: `JSON-RPC endpoint (env ${CLI_ENV.rpcUrl}; default ${DEFAULT_RPC_URL})` },
  {
    name: "deployment",
    type: "string",
    value: "<file>",
    description: `contract addresses (env ${CLI_ENV.deployment}; default deployments/<chainId>.json of this repository)`,
  },
  {
    name: "key",
    type: "string",
    value: "<hex>",
    description: `private key of the signing account (env ${CLI_ENV.privateKey}; prefer the environment: flags show in \`ps\`)`,
  },
  { name: "json", type: "boolean", description: "print JSON (amounts in the token's smallest unit, as strings)" },
  { name: "verbose", type: "boolean", description: "print error details" },
  { name: "help", type: "boolean", short: "h", description: "show help (also: dsmp help <command>)" },
  { name: "version", type: "boolean", short: "V", description: "print the version of dsmp" },
];

/** Resolve the global options from parsed flag values and the environment. */
export function resolveGlobalOptions(
  values: Readonly<Record<string, string | boolean | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
): GlobalOptions {
  const text = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  const fromEnv = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const keyFlag = text("key");
  const keyText = keyFlag ?? fromEnv(CLI_ENV.privateKey);
  return {
    rpcUrl: parseHttpUrl(text("rpc-url") ?? fromEnv(CLI_ENV.rpcUrl) ?? DEFAULT_RPC_URL, text("rpc-url") === undefined ? CLI_ENV.rpcUrl : "--rpc-url"),
    deployment: text("deployment") ?? fromEnv(CLI_ENV.deployment),
    privateKey: keyText === undefined ? undefined : parsePrivateKey(keyText, keyFlag === undefined ? CLI_ENV.privateKey : "--key"),
    json: values["json"] === true,
    verbose: values["verbose"] === true,
  };
}
