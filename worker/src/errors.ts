/**
 * Errors of the worker library. One base class, {@link DsmpError}, carries a typed `code`, a one-line
 * `shortMessage` for users, optional `details` and the `cause`; each condition is its own class with a
 * literal `name`, so callers branch with `instanceof` or on `code` and never parse messages.
 */

/** Every condition the worker library reports, one code per error class. */
export type DsmpErrorCode =
  | "CONFIG_INVALID"
  | "IDENTITY_INVALID_KEY"
  | "KEYSTORE_NOT_FOUND"
  | "KEYSTORE_EXISTS"
  | "KEYSTORE_PERMISSIONS"
  | "KEYSTORE_PASSPHRASE_REQUIRED"
  | "KEYSTORE_WRONG_PASSPHRASE"
  | "KEYSTORE_CORRUPT"
  | "RECORD_INVALID"
  | "API_NOT_FOUND"
  | "API_BAD_REQUEST"
  | "CHAIN_REVERT"
  | "CHAIN_UNREACHABLE"
  | "CHAIN_MISMATCH"
  | "CHAIN_TX_FAILED"
  | "CHAIN_ACCOUNT_REQUIRED"
  | "DEPLOYMENT_NOT_FOUND"
  | "DEPLOYMENT_INVALID"
  | "CLI_USAGE"
  | "CLI_NOT_FOUND"
  | "INTERRUPTED"
  | "DISCOVERY_STOPPED"
  | "DISCOVERY_NO_ADDRESSES"
  | "HTTP_FRAME_INVALID"
  | "MESH_REQUEST_FAILED"
  | "ACCESS_DENIED"
  | "MESH_TRANSPORT_FAILED"
  | "NODE_START_FAILED"
  | "NODE_UNREACHABLE"
  | "GATEWAY_REQUEST_FAILED"
  | "NODE_IDENTITY_MISMATCH"
  | "SANDBOX_MODULE_TOO_LARGE"
  | "SANDBOX_INVALID_MODULE"
  | "SANDBOX_FORBIDDEN_IMPORT"
  | "SANDBOX_TIMEOUT"
  | "SANDBOX_MEMORY_LIMIT"
  | "SANDBOX_TRAP"
  | "BLOB_NOT_FOUND"
  | "BLOB_TOO_LARGE"
  | "BLOB_HASH_MISMATCH"
  | "BLOB_FETCH_FAILED"
  | "METRIC_REPORT_INVALID"
  | "RESOURCE_CHALLENGE_FAILED";

export interface DsmpErrorOptions {
  /** More lines for whoever debugs it: which value, which file, what was expected. */
  details?: string | undefined;
  cause?: unknown;
}

/** Base of every error the worker library throws on purpose. */
export abstract class DsmpError extends Error {
  abstract override readonly name: string;
  abstract readonly code: DsmpErrorCode;
  /** One line, no trailing period, safe to show to a CLI user. */
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(shortMessage: string, options: DsmpErrorOptions = {}) {
    super(
      options.details === undefined ? shortMessage : `${shortMessage}\n\n${options.details}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Configuration

/** One failed check of the merged configuration. */
export interface ConfigIssue {
  /** Dotted path in the configuration, e.g. `api.port`; empty for the root. */
  path: string;
  message: string;
  /** Where the offending value came from: `defaults`, `preset`, the file path, `env DSMP_API_PORT`, `flags`. */
  origin?: string | undefined;
}

/** The configuration (defaults < preset < file < env < flags) failed validation, or the file is unreadable. */
export class ConfigError extends DsmpError {
  override readonly name = "ConfigError" as const;
  readonly code = "CONFIG_INVALID" as const;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    const count = issues.length === 1 ? "1 issue" : `${issues.length} issues`;
    super(`invalid configuration (${count})`, {
      details: issues.map(formatConfigIssue).join("\n"),
      cause: options.cause,
    });
    this.issues = issues;
  }
}

function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.path === "" ? "(root)" : issue.path;
  const origin = issue.origin === undefined ? "" : ` (from ${issue.origin})`;
  return `  - ${where}: ${issue.message}${origin}`;
}

// ---------------------------------------------------------------------------------------------------------
// Identity and keystore

/** 32 bytes that are not a valid secp256k1 private key (zero, or not below the group order). */
export class IdentityInvalidKeyError extends DsmpError {
  override readonly name = "IdentityInvalidKeyError" as const;
  readonly code = "IDENTITY_INVALID_KEY" as const;
}

/** Codes of the keystore errors. */
export type KeystoreErrorCode = Extract<DsmpErrorCode, `KEYSTORE_${string}`>;

/** Base of the keystore errors; each carries the keystore `path`. */
export abstract class KeystoreError extends DsmpError {
  abstract override readonly code: KeystoreErrorCode;
  readonly path: string;

  constructor(path: string, shortMessage: string, options: DsmpErrorOptions = {}) {
    super(shortMessage, options);
    this.path = path;
  }
}

export class KeystoreNotFoundError extends KeystoreError {
  override readonly name = "KeystoreNotFoundError" as const;
  readonly code = "KEYSTORE_NOT_FOUND" as const;
  constructor(path: string, options: DsmpErrorOptions = {}) {
    super(path, `no keystore at ${path}`, options);
  }
}

/** Creating a keystore where one already exists: the existing node identity is never overwritten. */
export class KeystoreExistsError extends KeystoreError {
  override readonly name = "KeystoreExistsError" as const;
  readonly code = "KEYSTORE_EXISTS" as const;
  constructor(path: string, options: DsmpErrorOptions = {}) {
    super(path, `a keystore already exists at ${path}; refusing to overwrite a node identity`, options);
  }
}

/** The keystore file is readable by group or others; the message says how to fix it. */
export class KeystorePermissionsError extends KeystoreError {
  override readonly name = "KeystorePermissionsError" as const;
  readonly code = "KEYSTORE_PERMISSIONS" as const;
  /** The file's permission bits, e.g. `0o644`. */
  readonly mode: number;
  constructor(path: string, mode: number) {
    super(
      path,
      `keystore ${path} is accessible by group or others (mode ${formatMode(mode)}); run: chmod 600 ${path}`,
      { details: "The node key controls the node's stake and signs its results; only its owner may read it." },
    );
    this.mode = mode;
  }
}

/** The keystore is encrypted and no passphrase was supplied. */
export class KeystorePassphraseRequiredError extends KeystoreError {
  override readonly name = "KeystorePassphraseRequiredError" as const;
  readonly code = "KEYSTORE_PASSPHRASE_REQUIRED" as const;
  constructor(path: string) {
    super(path, `keystore ${path} is encrypted and no passphrase was given`);
  }
}

export class KeystoreWrongPassphraseError extends KeystoreError {
  override readonly name = "KeystoreWrongPassphraseError" as const;
  readonly code = "KEYSTORE_WRONG_PASSPHRASE" as const;
  constructor(path: string) {
    super(path, `wrong passphrase for keystore ${path}`);
  }
}

/** The keystore file does not parse, fails its integrity check or holds a key that is not its stated identity. */
export class KeystoreCorruptError extends KeystoreError {
  override readonly name = "KeystoreCorruptError" as const;
  readonly code = "KEYSTORE_CORRUPT" as const;
  constructor(path: string, reason: string, options: { cause?: unknown } = {}) {
    super(path, `keystore ${path} is corrupt: ${reason}`, options);
  }
}

function formatMode(mode: number): string {
  return `0o${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------
// Signed records

/**
 * Why a signed record was refused, in the order validation checks them (docs/protocol.md §3.5).
 * - `too-large`: over the size cap, refused before parsing.
 * - `malformed`: not UTF-8, not JSON, a field missing/extra/out of range, or not the canonical encoding.
 * - `wrong-chain`: chain id or registry differ from the deployment the validator expects.
 * - `wrong-key`: stored under a DHT key that is not the record's own key.
 * - `expired`: `expiresAt` is not after `now`.
 * - `expiry-too-far`: `expiresAt` is further ahead than the maximum lifetime.
 * - `bad-signature`: no public key recovers from the signature (or a malleable high-s signature).
 * - `wrong-signer`: the signature recovers to an address other than `node`.
 * - `wrong-peer-id`: `peerId` is not the PeerId of the signing key.
 */
export type RecordInvalidReason =
  | "too-large"
  | "malformed"
  | "wrong-chain"
  | "wrong-key"
  | "expired"
  | "expiry-too-far"
  | "bad-signature"
  | "wrong-signer"
  | "wrong-peer-id";

/** A signed record (a service record from the DHT, for now) failed decoding or validation. */
export class RecordInvalidError extends DsmpError {
  override readonly name = "RecordInvalidError" as const;
  readonly code = "RECORD_INVALID" as const;
  readonly reason: RecordInvalidReason;

  constructor(reason: RecordInvalidReason, details: string, options: { cause?: unknown } = {}) {
    super(`invalid service record: ${reason}`, { details, cause: options.cause });
    this.reason = reason;
  }
}

/**
 * Why an Open Observability report was refused (docs/protocol.md §10):
 * - `too-large`, `malformed`: the gossip message is over the size bound, or not the envelope / report schema.
 * - `wrong-chain`: the report names another chain id than this node's.
 * - `bad-signature`: the signature does not recover to the report's `reporter`.
 * - `unknown-reporter`: the reporter is not an active registered Xnode with a bond in this node's chain view.
 * - `wrong-author`: the gossipsub message's author (its StrictSign `from`) is not the reporter's registered PeerId.
 * - `stale` / `from-future`: the window ended too long ago, or ends ahead of this node's clock by more than the skew.
 * - `replayed`: not newer than the last report accepted from this reporter.
 */
export type MetricReportInvalidReason =
  | "too-large"
  | "malformed"
  | "wrong-chain"
  | "bad-signature"
  | "unknown-reporter"
  | "wrong-author"
  | "stale"
  | "from-future"
  | "replayed";

/** An Open Observability report failed decoding or validation; it is dropped and counted by reason. */
export class MetricReportInvalidError extends DsmpError {
  override readonly name = "MetricReportInvalidError" as const;
  readonly code = "METRIC_REPORT_INVALID" as const;
  readonly reason: MetricReportInvalidReason;

  constructor(reason: MetricReportInvalidReason, details: string, options: { cause?: unknown } = {}) {
    super(`invalid metric report: ${reason}`, { details, cause: options.cause });
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Control API

/** No route for the method and path asked of the node's control API. */
export class ApiNotFoundError extends DsmpError {
  override readonly name = "ApiNotFoundError" as const;
  readonly code = "API_NOT_FOUND" as const;
}

/** A control API request whose parameters or body do not validate. */
export class ApiBadRequestError extends DsmpError {
  override readonly name = "ApiBadRequestError" as const;
  readonly code = "API_BAD_REQUEST" as const;
}

// ---------------------------------------------------------------------------------------------------------
// Chain

/**
 * A contract call reverted. `errorName` and `args` are the custom error as decoded with every DSMP ABI
 * (`StakingUnbondingNotReleased`, `ERC20InsufficientBalance`, …; `Error` / `Panic` for Solidity's built-ins,
 * `unknown` when the revert carried no data we can decode); `shortMessage` says it in words, with token units.
 */
export class ChainRevertError extends DsmpError {
  override readonly name = "ChainRevertError" as const;
  readonly code = "CHAIN_REVERT" as const;
  readonly errorName: string;
  readonly args: readonly unknown[];

  constructor(errorName: string, args: readonly unknown[], shortMessage: string, options: DsmpErrorOptions = {}) {
    super(shortMessage, options);
    this.errorName = errorName;
    this.args = args;
  }
}

/** The JSON-RPC endpoint does not answer (refused, unresolvable, timed out). */
export class ChainUnreachableError extends DsmpError {
  override readonly name = "ChainUnreachableError" as const;
  readonly code = "CHAIN_UNREACHABLE" as const;
  readonly rpcUrl: string;

  constructor(rpcUrl: string, options: DsmpErrorOptions = {}) {
    super(`cannot reach ${rpcUrl}: is the chain running? start one with \`npm run devnet\``, options);
    this.rpcUrl = rpcUrl;
  }
}

/** The deployment (contract addresses) belongs to another chain than the one the RPC endpoint serves. */
export class ChainMismatchError extends DsmpError {
  override readonly name = "ChainMismatchError" as const;
  readonly code = "CHAIN_MISMATCH" as const;
  /** Chain id written in the deployment. */
  readonly deploymentChainId: number;
  /** Chain id the RPC endpoint reports. */
  readonly rpcChainId: number;

  constructor(parameters: { deploymentChainId: number; rpcChainId: number; rpcUrl: string; source?: string | undefined }) {
    const what = parameters.source === undefined ? "the deployment" : `deployment file ${parameters.source}`;
    super(`${what} is for chain ${parameters.deploymentChainId}, but ${parameters.rpcUrl} serves chain ${parameters.rpcChainId}`, {
      details: "Pass the deployment file of this chain with --deployment, or point --rpc-url at the chain it was deployed to.",
    });
    this.deploymentChainId = parameters.deploymentChainId;
    this.rpcChainId = parameters.rpcChainId;
  }
}

/** A transaction was mined but reverted (the simulation before sending had passed). */
export class ChainTransactionFailedError extends DsmpError {
  override readonly name = "ChainTransactionFailedError" as const;
  readonly code = "CHAIN_TX_FAILED" as const;
  readonly hash: `0x${string}`;

  constructor(hash: `0x${string}`, what: string, options: DsmpErrorOptions = {}) {
    super(`${what}: transaction ${hash} reverted`, options);
    this.hash = hash;
  }
}

/** A write was asked of a client that has no account to sign with. */
export class ChainAccountRequiredError extends DsmpError {
  override readonly name = "ChainAccountRequiredError" as const;
  readonly code = "CHAIN_ACCOUNT_REQUIRED" as const;
}

/** No deployment file where one was expected. */
export class DeploymentNotFoundError extends DsmpError {
  override readonly name = "DeploymentNotFoundError" as const;
  readonly code = "DEPLOYMENT_NOT_FOUND" as const;
  readonly path: string;

  constructor(path: string, options: DsmpErrorOptions = {}) {
    super(`no deployment file at ${path}: deploy the contracts with \`npm run deploy\` or pass --deployment`, options);
    this.path = path;
  }
}

/** A deployment file that does not parse, or lacks a contract the caller needs. */
export class DeploymentInvalidError extends DsmpError {
  override readonly name = "DeploymentInvalidError" as const;
  readonly code = "DEPLOYMENT_INVALID" as const;
  readonly path: string;

  constructor(path: string, reason: string, options: DsmpErrorOptions = {}) {
    super(`deployment file ${path} is invalid: ${reason}`, options);
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Command line

/** Bad command line: unknown command or flag, missing or malformed value. The CLI prints usage and exits 2. */
export class CliUsageError extends DsmpError {
  override readonly name = "CliUsageError" as const;
  readonly code = "CLI_USAGE" as const;
  readonly exitCode = 2;
  /** Usage text of the command concerned, printed after the message. */
  readonly usage: string | undefined;

  constructor(shortMessage: string, options: DsmpErrorOptions & { usage?: string | undefined } = {}) {
    super(shortMessage, options);
    this.usage = options.usage;
  }
}

/** What a command line names (a task, a node) does not exist on the chain. The CLI exits 1. */
export class CliNotFoundError extends DsmpError {
  override readonly name = "CliNotFoundError" as const;
  readonly code = "CLI_NOT_FOUND" as const;
}

/**
 * Work stopped by its AbortSignal (the CLI aborts on the first SIGINT). A command line exits 130, as a shell
 * does for Ctrl-C. The message says what may still happen, e.g. a transaction sent but not yet mined.
 */
export class InterruptedError extends DsmpError {
  override readonly name = "InterruptedError" as const;
  readonly code = "INTERRUPTED" as const;
  readonly exitCode = 130;
}
// Service discovery

/** The announcer or resolver was stopped: it publishes and looks up nothing any more. */
export class DiscoveryStoppedError extends DsmpError {
  override readonly name = "DiscoveryStoppedError" as const;
  readonly code = "DISCOVERY_STOPPED" as const;
  constructor(what: "announcer" | "resolver") {
    super(`the service ${what} is stopped`);
  }
}

/** The node has no address to put in its service record (not listening, or none a record can carry). */
export class DiscoveryNoAddressesError extends DsmpError {
  override readonly name = "DiscoveryNoAddressesError" as const;
  readonly code = "DISCOVERY_NO_ADDRESSES" as const;
  constructor(details: string) {
    super("no address to announce: is the node listening?", { details });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Mesh data plane

/**
 * Why bytes on a `/dsmp/http/1.0.0` stream were refused (docs/protocol.md §5.5).
 * - `empty-frame`: a length prefix of 0 (every frame has at least its type byte).
 * - `bad-length`: a length prefix that is not minimally encoded.
 * - `frame-too-large`: a length prefix over the frame cap, or longer than 3 bytes; refused before buffering.
 * - `truncated`: the stream ended inside a frame (inside the length prefix or the frame body).
 * - `unknown-type`: a frame type byte this version does not define.
 * - `bad-request-id`: the request id is missing, over 2^32 − 1 or not minimally encoded.
 * - `bad-json`: a head or error payload that is not UTF-8 JSON.
 * - `invalid-fields`: JSON that parses but misses a field or holds a value out of range.
 * - `head-too-large`: a head payload over 16 KiB.
 * - `too-many-headers`: more than 100 header pairs.
 * - `body-too-large`: a body frame payload over 64 KiB.
 * - `unexpected-payload`: END or RESET with a payload.
 * - `unexpected-frame`: a valid frame in the wrong place (body before head, a second head, …).
 * - `wrong-request-id`: a frame for a request id the stream does not carry.
 */
export type HttpFrameInvalidReason =
  | "empty-frame"
  | "bad-length"
  | "frame-too-large"
  | "truncated"
  | "unknown-type"
  | "bad-request-id"
  | "bad-json"
  | "invalid-fields"
  | "head-too-large"
  | "too-many-headers"
  | "body-too-large"
  | "unexpected-payload"
  | "unexpected-frame"
  | "wrong-request-id";

/** A peer sent (or we were about to send) bytes that break the `/dsmp/http/1.0.0` framing rules. */
export class HttpFrameError extends DsmpError {
  override readonly name = "HttpFrameError" as const;
  readonly code = "HTTP_FRAME_INVALID" as const;
  readonly reason: HttpFrameInvalidReason;

  constructor(reason: HttpFrameInvalidReason, details: string, options: { cause?: unknown } = {}) {
    super(`invalid http frame: ${reason}`, { details, cause: options.cause });
    this.reason = reason;
  }
}

/**
 * Why an HTTP exchange over the mesh failed: the `code` of an ERROR frame (docs/protocol.md §5.6), each
 * with the status the gateway answers.
 * - `bad-request` (400): the request cannot be forwarded as it is (e.g. a CONNECT).
 * - `protocol-error` (502): the peer broke the framing rules.
 * - `head-too-large` (431): a head over 16 KiB or with more than 100 headers.
 * - `unauthorized` (401): the access token is missing or invalid (docs/protocol.md §8).
 * - `forbidden` (403): the token is valid but its consumer may not call the service (no subscription, not
 *   allow-listed, service retired or unknown to the provider's chain view).
 * - `unknown-service` (404): the provider does not serve this service id.
 * - `busy` (503): the provider refuses more work for now (reserved for load shedding).
 * - `backend-unavailable` (502): the provider could not connect to its backend.
 * - `backend-failed` (502): the backend connection failed mid-exchange or sent an unusable response.
 * - `deadline-exceeded` (504): the request's deadline passed.
 * - `internal` (500): anything else; also what a receiver makes of a code it does not know.
 */
export type MeshErrorCode =
  | "bad-request"
  | "protocol-error"
  | "head-too-large"
  | "unauthorized"
  | "forbidden"
  | "unknown-service"
  | "busy"
  | "backend-unavailable"
  | "backend-failed"
  | "deadline-exceeded"
  | "internal";

/** An HTTP exchange over the mesh failed, on this node or as reported by the remote's ERROR frame. */
export class MeshRequestError extends DsmpError {
  override readonly name = "MeshRequestError" as const;
  readonly code = "MESH_REQUEST_FAILED" as const;
  readonly reason: MeshErrorCode;

  constructor(reason: MeshErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`${reason}: ${message}`, { cause: options.cause });
    this.reason = reason;
  }
}

/**
 * Why the gateway's transport to a provider failed (not an answer of the provider):
 * - `unreachable`: no session stream could be opened (dial failed or timed out).
 * - `overloaded`: every session to the provider is full and the wait queue too; nothing was sent.
 * - `connection-lost`: the session stream or its connection closed while the request was in flight.
 * - `protocol-error`: the provider broke the session framing rules; the session was closed.
 */
export type MeshTransportFailure = "unreachable" | "overloaded" | "connection-lost" | "protocol-error";

/**
 * A request could not be carried to a provider, or its answer was lost on the way. `sent` tells whether any
 * byte of the request may have reached the provider; when false, any request may safely go to another one.
 * Every such failure is retryable as far as the transport is concerned; the gateway still retries requests
 * that were `sent` only when their method is idempotent.
 */
export class MeshTransportError extends DsmpError {
  override readonly name = "MeshTransportError" as const;
  readonly code = "MESH_TRANSPORT_FAILED" as const;
  readonly reason: MeshTransportFailure;
  readonly sent: boolean;
  readonly retryable = true;

  constructor(reason: MeshTransportFailure, message: string, options: { sent: boolean; cause?: unknown }) {
    super(`${reason}: ${message}`, { cause: options.cause });
    this.reason = reason;
    this.sent = options.sent;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Access (request tokens for paid and private services)

/**
 * Why a provider refused a call (docs/protocol.md §8.5), in the order the checks run. 401 reasons say the
 * token is missing or invalid; 403 reasons say a valid consumer may not call the service; 503 that the
 * provider cannot take another nonce right now.
 * - `service-unknown` (403): the provider's chain view has no such service (fail closed).
 * - `service-retired` (403): the service is retired; only its owner may still call it.
 * - `token-missing` (401): the service is paid or private and the request carries no `dsmp-access` header.
 * - `token-too-large` (401): the header is longer than the cap; refused before decoding.
 * - `token-malformed` (401): not base64url, not JSON, a field missing, extra or out of range.
 * - `wrong-chain` (401): the token's chain id or registry is not the provider's deployment.
 * - `wrong-service` (401): the token names another service than the request.
 * - `expired` (401): the expiry (plus the clock-skew allowance) has passed.
 * - `expiry-too-far` (401): the expiry is more than the maximum lifetime (plus skew) ahead.
 * - `bad-signature` (401): r or s out of range, high-s, or no key recovers.
 * - `wrong-signer` (401): the signature recovers to another address than the token's `consumer`.
 * - `replayed` (401): this provider already accepted the consumer's nonce.
 * - `not-allowed` (403): a private service and the consumer is neither granted nor proven in the Merkle root.
 * - `not-subscribed` (403): a subscription service and the consumer has no active subscription.
 * - `replay-cache-full` (503): the bounded nonce memory is full of unexpired nonces; try again shortly.
 */
export type AccessDenialReason =
  | "service-unknown"
  | "service-retired"
  | "token-missing"
  | "token-too-large"
  | "token-malformed"
  | "wrong-chain"
  | "wrong-service"
  | "wrong-provider"
  | "token-unbound"
  | "expired"
  | "expiry-too-far"
  | "bad-signature"
  | "wrong-signer"
  | "replayed"
  | "not-allowed"
  | "not-subscribed"
  | "escrow-missing"
  | "escrow-price-outdated"
  | "escrow-insufficient"
  | "replay-cache-full";

/** HTTP status of each denial reason. */
export const ACCESS_DENIAL_STATUS: Readonly<Record<AccessDenialReason, 401 | 403 | 503>> = {
  "service-unknown": 403,
  "service-retired": 403,
  "token-missing": 401,
  "token-too-large": 401,
  "token-malformed": 401,
  "wrong-chain": 401,
  "wrong-service": 401,
  "wrong-provider": 401,
  "token-unbound": 401,
  expired: 401,
  "expiry-too-far": 401,
  "bad-signature": 401,
  "wrong-signer": 401,
  replayed: 401,
  "not-allowed": 403,
  "not-subscribed": 403,
  "escrow-missing": 403,
  "escrow-price-outdated": 403,
  "escrow-insufficient": 403,
  "replay-cache-full": 503,
};

/** A call was refused by the access policy, or an access token did not decode. */
export class AccessDeniedError extends DsmpError {
  override readonly name = "AccessDeniedError" as const;
  readonly code = "ACCESS_DENIED" as const;
  readonly reason: AccessDenialReason;
  readonly status: 401 | 403 | 503;

  constructor(reason: AccessDenialReason, details: string, options: { cause?: unknown } = {}) {
    super(`access denied: ${reason}`, { details, cause: options.cause });
    this.reason = reason;
    this.status = ACCESS_DENIAL_STATUS[reason];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Xnode

/** The Xnode could not start: chain unreachable, wrong chain, no deployments file, a port in use. */
export class NodeStartError extends DsmpError {
  override readonly name = "NodeStartError" as const;
  readonly code = "NODE_START_FAILED" as const;
}

/** A running node's control API or gateway did not answer (not started, wrong URL, or it answered an error). */
export class NodeUnreachableError extends DsmpError {
  override readonly name = "NodeUnreachableError" as const;
  readonly code = "NODE_UNREACHABLE" as const;
}

/**
 * A request through the gateway failed: the gateway's own `error` code (`no-providers`, `all-breakers-open`,
 * `deadline-exceeded`, …, docs/mesh.md) or the provider's answer, with the HTTP `status` the caller saw.
 */
export class GatewayRequestError extends DsmpError {
  override readonly name = "GatewayRequestError" as const;
  readonly code = "GATEWAY_REQUEST_FAILED" as const;
  readonly status: number;
  /** The `error` of the gateway's JSON body, `undefined` when the answer came from the service itself. */
  readonly error: string | undefined;

  constructor(shortMessage: string, init: { status: number; error?: string | undefined; details?: string | undefined; cause?: unknown }) {
    super(shortMessage, { details: init.details, cause: init.cause });
    this.status = init.status;
    this.error = init.error;
  }
}

/** The registry binds this node's address to another PeerId than the key's own: refuse to start. */
export class NodeIdentityMismatchError extends DsmpError {
  override readonly name = "NodeIdentityMismatchError" as const;
  readonly code = "NODE_IDENTITY_MISMATCH" as const;
  constructor(address: string, registered: string, own: string) {
    super(`the registry holds node ${address} with another PeerId than this key's`, {
      details: `registered PeerId bytes ${registered}, this keystore's ${own}: is this the right keystore?`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tasks: Wasm sandbox and blob protocol (docs/tasks.md)

/** Codes of the sandbox errors: why a task's module could not produce an output. */
export type SandboxErrorCode = Extract<DsmpErrorCode, `SANDBOX_${string}`>;

/**
 * A module failed in the sandbox. Each subclass is one reason; `reason` is the short word recorded with a
 * failed task (`too-large`, `invalid`, `forbidden-import`, `timeout`, `memory-limit`, `trap`).
 */
export abstract class SandboxError extends DsmpError {
  abstract override readonly code: SandboxErrorCode;
  abstract readonly reason: "too-large" | "invalid" | "forbidden-import" | "timeout" | "memory-limit" | "trap";
}

/** The module is larger than the sandbox accepts. */
export class ModuleTooLargeError extends SandboxError {
  override readonly name = "ModuleTooLargeError" as const;
  readonly code = "SANDBOX_MODULE_TOO_LARGE" as const;
  readonly reason = "too-large" as const;
  constructor(size: number, max: number) {
    super(`module of ${size} bytes is over the ${max}-byte cap`);
  }
}

/** Not a valid WebAssembly binary, or it does not follow the sandbox ABI (exports, memory). */
export class InvalidModuleError extends SandboxError {
  override readonly name = "InvalidModuleError" as const;
  readonly code = "SANDBOX_INVALID_MODULE" as const;
  readonly reason = "invalid" as const;
}

/** The module imports something; the sandbox ABI grants no imports at all (no clock, randomness or I/O). */
export class ForbiddenImportError extends SandboxError {
  override readonly name = "ForbiddenImportError" as const;
  readonly code = "SANDBOX_FORBIDDEN_IMPORT" as const;
  readonly reason = "forbidden-import" as const;
  readonly imports: readonly string[];
  constructor(imports: readonly string[]) {
    super(`module imports ${imports.join(", ")}; the sandbox grants no imports`);
    this.imports = imports;
  }
}

/** The run went past its wall-clock cap and its thread was terminated. */
export class SandboxTimeoutError extends SandboxError {
  override readonly name = "SandboxTimeoutError" as const;
  readonly code = "SANDBOX_TIMEOUT" as const;
  readonly reason = "timeout" as const;
  constructor(timeoutMs: number) {
    super(`module ran longer than ${timeoutMs} ms`);
  }
}

/** The module declared, or grew to, more memory than the cap (or its thread ran out of heap). */
export class SandboxMemoryLimitError extends SandboxError {
  override readonly name = "SandboxMemoryLimitError" as const;
  readonly code = "SANDBOX_MEMORY_LIMIT" as const;
  readonly reason = "memory-limit" as const;
}

/** The module trapped (unreachable, out-of-bounds access, division by zero, stack overflow, bad output span). */
export class SandboxTrapError extends SandboxError {
  override readonly name = "SandboxTrapError" as const;
  readonly code = "SANDBOX_TRAP" as const;
  readonly reason = "trap" as const;
}

/** No peer we asked holds a blob with this hash. */
export class BlobNotFoundError extends DsmpError {
  override readonly name = "BlobNotFoundError" as const;
  readonly code = "BLOB_NOT_FOUND" as const;
  constructor(hash: string, options: DsmpErrorOptions = {}) {
    super(`blob ${hash} not found`, options);
  }
}

/** A blob (stored, offered or received) is over the size cap. */
export class BlobTooLargeError extends DsmpError {
  override readonly name = "BlobTooLargeError" as const;
  readonly code = "BLOB_TOO_LARGE" as const;
  constructor(size: number, max: number) {
    super(`blob of at least ${size} bytes is over the ${max}-byte cap`);
  }
}

/** Bytes received for a hash do not hash to it. */
export class BlobHashMismatchError extends DsmpError {
  override readonly name = "BlobHashMismatchError" as const;
  readonly code = "BLOB_HASH_MISMATCH" as const;
  constructor(expected: string, actual: string) {
    super(`blob hash mismatch: asked for ${expected}, received bytes hashing to ${actual}`);
  }
}

/** The blob exchange with a peer failed (stream error, malformed answer, deadline). */
export class BlobFetchError extends DsmpError {
  override readonly name = "BlobFetchError" as const;
  readonly code = "BLOB_FETCH_FAILED" as const;
}

// ---------------------------------------------------------------------------------------------------------
// Proof of Resource

/** Why a compute challenge got no usable answer (docs/protocol.md §12). */
export type ResourceChallengeFailure = "refused" | "no-answer" | "malformed";

/**
 * A Proof of Resource challenge got no usable answer: the prover refused it (`status` says why: busy,
 * rate-limited, not-eligible, malformed-request), did not answer in time or dropped the stream, or sent
 * bytes that are not an answer. A wrong or late answer is not an error: it is a failed verdict.
 */
export class ResourceChallengeError extends DsmpError {
  override readonly name = "ResourceChallengeError" as const;
  readonly code = "RESOURCE_CHALLENGE_FAILED" as const;
  readonly reason: ResourceChallengeFailure;
  readonly status: string | undefined;

  constructor(reason: ResourceChallengeFailure, message: string, options: { status?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.status = options.status;
  }
}
