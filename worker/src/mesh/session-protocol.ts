/**
 * Constants of `/dsmp/mesh/1.0.0`, the multiplexed session protocol of the HTTP data plane
 * (docs/protocol.md §10): one long-lived libp2p stream carries many HTTP exchanges at once, interleaved by
 * request id, with the frames of `/dsmp/http/1.0.0` (http-frames.ts) plus WINDOW for per-request credit.
 */

/** The libp2p protocol id of a session stream. */
export const MESH_PROTOCOL_ID = "/dsmp/mesh/1.0.0";

/** Request id 0 names the session itself (an ERROR with id 0 closes the session); requests use 1 … 2^32 − 1. */
export const SESSION_REQUEST_ID = 0;

/**
 * Requests a provider serves at once on one session: 128. Above it a new REQUEST_HEAD is answered at once
 * with ERROR `busy`; gateways open another session before they reach it. Bounds per-session memory
 * (128 × two 256 KiB windows) and backend concurrency per stream.
 */
export const MAX_CONCURRENT_REQUESTS_PER_SESSION = 128;

/** Session streams a gateway keeps per provider at most: 4 (more only helps when one stream's window is the limit). */
export const DEFAULT_MAX_SESSIONS_PER_PROVIDER = 4;

/** Requests in flight on every session of a provider before the gateway opens another one: 64. */
export const DEFAULT_SESSION_GROW_AT = 64;

/** Requests that may wait for a session slot per provider before the gateway answers 503 `busy`: 1024. */
export const DEFAULT_MAX_QUEUED_PER_PROVIDER = 1024;

/**
 * A session without requests for this long is closed by the gateway: 30 s, well below yamux's 120 s stream
 * inactivity timeout, so a session is never cut under a request that is just starting.
 */
export const DEFAULT_SESSION_IDLE_MS = 30_000;

/** Session streams a provider accepts per connection: 16 (gateways use at most 4 per provider). */
export const DEFAULT_MAX_INBOUND_SESSIONS = 16;
