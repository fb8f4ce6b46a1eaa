/**
 * The provider's access decision for one call (docs/protocol.md §8.5): (request, chain view, now, replay
 * memory) → allow | deny {status, reason}. Pure apart from recording an accepted nonce in the replay cache
 * it is handed; time comes in as values.
 *
 * Which services need a token: a service that is **public and free** (no per-call, per-period or one-time
 * price) is open to anyone and needs none. Every other service needs a valid token; then
 * - **private** → the consumer is the owner, explicitly granted, or proven in the Merkle `allowlistRoot`;
 * - **subscription-priced** (per period or one-time) → the consumer has an active subscription, judged at
 *   chain time (subscriptions end at a block timestamp, Subscriptions.isActive);
 * - **per-call priced** → when the deployment has a UsageEscrow, the token must name this provider (v 2:
 *   only then is it evidence UsageEscrow pays this node for), and the consumer's escrow for the service must
 *   hold an agreed price ≥ the current `perCall` and, after any pending withdrawal, cover this call plus the
 *   calls this provider served it and has not claimed yet; the token is the evidence the provider claims
 *   with (docs/access.md). Without a UsageEscrow a valid token is all;
 * - the service owner may always call its own active service.
 */
import type { Address } from "viem";
import { AccessDeniedError, ACCESS_DENIAL_STATUS, type AccessDenialReason } from "../../errors.ts";
import { escrowOf, isSubscribed, type DsmpState, type ServiceView } from "../../chain/dsmp-state.ts";
import { verifyAllowlistProof } from "./allowlist-proof.ts";
import { ReplayCache } from "./replay-cache.ts";
import {
  decodeAccessToken,
  displayAddress,
  MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
  recoverAccessTokenSigner,
  type AccessDomain,
  type AccessToken,
} from "./request-token.ts";

/**
 * Clock difference tolerated between consumer and provider: 30 s either way. NTP keeps hosts within
 * milliseconds; 30 s forgives a badly set laptop without stretching a token's life much.
 */
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;

export interface AccessRequest {
  serviceId: bigint;
  /** The `dsmp-access` header value, `undefined` when absent; every value when the request repeats it. */
  header: string | readonly string[] | undefined;
}

export interface AccessContext {
  /** The provider's deployment; tokens for another are refused. */
  domain: AccessDomain;
  /** This provider's node address (lowercase or checksummed); v 2 tokens naming another node are refused. */
  provider: Address;
  /** The provider's chain view. */
  state: DsmpState;
  /** Wall-clock unix seconds: token expiry is judged against it. */
  now: number;
  /**
   * Unix seconds for subscription expiry: the later of the wall clock and the newest block timestamp seen
   * (a chain whose clock runs ahead, as a devnet after `evm_increaseTime`, ends subscriptions early).
   * @default `now`
   */
  chainNow?: bigint | undefined;
  replay: ReplayCache;
  /** @default {@link DEFAULT_CLOCK_SKEW_SECONDS} */
  clockSkewSeconds?: number | undefined;
  /**
   * Per-call escrow checks (step 16 of docs/protocol.md §8.5): present when the deployment has a UsageEscrow.
   * `unclaimed` says how many calls of (service, consumer) this provider served and has not been paid for yet.
   */
  escrow?: { unclaimed: (serviceId: bigint, consumer: Address) => number } | undefined;
  /** @default {@link MAX_ACCESS_TOKEN_LIFETIME_SECONDS} */
  maxLifetimeSeconds?: number | undefined;
}

export type AccessDecision =
  | {
      allow: true;
      /** Why: `open` (public and free, no token looked at), `owner`, or `token` (all checks passed). */
      basis: "open" | "owner" | "token";
      /** The verified token; `undefined` for `open`. */
      token: AccessToken | undefined;
    }
  | { allow: false; status: 401 | 403 | 503; reason: AccessDenialReason; message: string };

/** Public and free: anyone may call without a token. */
export function isOpenService(service: ServiceView): boolean {
  const p = service.pricing;
  return service.visibility === "public" && p.perCall === 0n && p.perPeriod === 0n && p.oneTime === 0n;
}

/** Needs an active subscription (per-period or one-time priced). */
export function needsSubscription(service: ServiceView): boolean {
  return service.pricing.perPeriod > 0n || service.pricing.oneTime > 0n;
}

function deny(reason: AccessDenialReason, message: string): AccessDecision {
  return { allow: false, status: ACCESS_DENIAL_STATUS[reason], reason, message };
}

/**
 * Decide one call. Checks run cheapest first and stop at the first failure; the signature is recovered only
 * after the token's form, chain, service and time have passed; the nonce is recorded only when the call is
 * allowed (a token refused for a missing subscription can be retried once the subscription is indexed).
 * @example
 * const decision = await verifyAccess({ serviceId: 2n, header: req.headers["dsmp-access"] }, { domain, state, now, replay });
 * if (!decision.allow) answer(decision.status, decision.reason);
 */
export async function verifyAccess(request: AccessRequest, context: AccessContext): Promise<AccessDecision> {
  const { state, now, replay, domain } = context;
  const self = context.provider.toLowerCase();
  const skew = context.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxLifetime = context.maxLifetimeSeconds ?? MAX_ACCESS_TOKEN_LIFETIME_SECONDS;
  const id = request.serviceId;

  const service = state.services.get(id);
  if (service === undefined) return deny("service-unknown", `service ${id} is not in this provider's chain view`);
  if (service.status === "active" && isOpenService(service)) return { allow: true, basis: "open", token: undefined };
  if (request.header === undefined || request.header === "" || (typeof request.header !== "string" && request.header.length === 0)) {
    return deny("token-missing", `service ${id} is ${service.visibility === "private" ? "private" : "paid"}: send a signed dsmp-access token`);
  }

  if (typeof request.header !== "string") {
    if (request.header.length !== 1) return deny("token-malformed", `${request.header.length} dsmp-access headers: send exactly one token`);
  }
  const header = typeof request.header === "string" ? request.header : request.header[0]!;
  let token: AccessToken;
  try {
    token = decodeAccessToken(header);
  } catch (error) {
    if (error instanceof AccessDeniedError) return deny(error.reason, error.details ?? error.shortMessage);
    throw error;
  }
  if (token.chainId !== domain.chainId || token.registry !== domain.registry.toLowerCase()) {
    return deny("wrong-chain", `token for chain ${token.chainId} registry ${token.registry}, this provider serves chain ${domain.chainId} registry ${domain.registry.toLowerCase()}`);
  }
  if (token.serviceId !== id) return deny("wrong-service", `token for service ${token.serviceId}, request for service ${id}`);
  if (token.provider !== undefined && token.provider !== self) {
    return deny("wrong-provider", `token for provider ${displayAddress(token.provider)}, this provider is ${displayAddress(self)}`);
  }
  if (token.expiry + skew <= now) return deny("expired", `token expired at ${token.expiry}, now ${now}`);
  if (token.expiry - now > maxLifetime + skew) {
    return deny("expiry-too-far", `token expires ${token.expiry - now} s from now, at most ${maxLifetime} s allowed`);
  }
  let signer: Address;
  try {
    signer = await recoverAccessTokenSigner(token);
  } catch (error) {
    if (error instanceof AccessDeniedError) return deny(error.reason, error.details ?? error.shortMessage);
    throw error;
  }
  if (signer !== token.consumer) return deny("wrong-signer", `signed by ${displayAddress(signer)}, token names consumer ${displayAddress(token.consumer)}`);
  const key = ReplayCache.key(token.consumer, token.nonce);
  if (replay.has(key, now)) return deny("replayed", `nonce ${token.nonce} of ${displayAddress(token.consumer)} was already used`);

  const owner = token.consumer === service.owner.toLowerCase();
  if (service.status !== "active" && !owner) return deny("service-retired", `service ${id} is retired`);
  if (!owner) {
    if (service.visibility === "private" && !service.granted.has(token.consumer) && !verifyAllowlistProof(service.allowlistRoot, token.consumer, token.proof)) {
      return deny("not-allowed", `${displayAddress(token.consumer)} is not on the allow-list of private service ${id}`);
    }
    const chainNow = context.chainNow ?? BigInt(Math.floor(now));
    if (needsSubscription(service) && !isSubscribed(state, id, token.consumer, chainNow)) {
      return deny("not-subscribed", `${displayAddress(token.consumer)} has no active subscription to service ${id}`);
    }
    const price = service.pricing.perCall;
    if (price > 0n && context.escrow !== undefined) {
      if (token.provider === undefined) {
        return deny("token-unbound", `service ${id} is paid per call: its tokens must name the provider (v 2 token with provider ${displayAddress(self)})`);
      }
      const escrow = escrowOf(state, id, token.consumer);
      if (escrow === undefined || escrow.pricePerCall === 0n) {
        return deny("escrow-missing", `${displayAddress(token.consumer)} has no per-call escrow for service ${id}: deposit with \`dsmp escrow deposit ${id} <amount>\``);
      }
      if (escrow.pricePerCall < price) {
        return deny("escrow-price-outdated", `${displayAddress(token.consumer)} agreed to ${escrow.pricePerCall} per call, service ${id} now costs ${price}: deposit again (any amount) to accept it`);
      }
      const unclaimed = BigInt(context.escrow.unclaimed(id, token.consumer));
      const available = escrow.balance - escrow.pendingWithdrawal;
      if (available < (unclaimed + 1n) * price) {
        return deny("escrow-insufficient", `escrow of ${displayAddress(token.consumer)} for service ${id} holds ${available} after withdrawals, this call and ${unclaimed} unclaimed need ${(unclaimed + 1n) * price}: top it up with \`dsmp escrow deposit ${id} <amount>\``);
      }
    }
  }
  if (!replay.add(key, token.expiry + skew, now)) {
    return deny("replay-cache-full", `this provider remembers ${replay.capacity} unexpired nonces; try again shortly`);
  }
  return { allow: true, basis: owner ? "owner" : "token", token };
}
