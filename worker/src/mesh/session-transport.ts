/**
 * {@link ProviderTransport} over `/dsmp/mesh/1.0.0`: a small pool of long-lived session streams per
 * provider, many requests interleaved on each (docs/protocol.md §8).
 *
 * Pool policy, per provider: use the session with the fewest requests in flight; open another (up to
 * `maxSessionsPerProvider`) once every session carries `growAt` requests; when all are full, wait in a
 * bounded queue, and beyond that fail with `overloaded` (the gateway answers 503). A session that fails or
 * whose stream closes is dropped (its requests fail with a retryable `connection-lost`) and the next request
 * opens a new one, redialling the connection if needed. Idle sessions are closed after `idleMs`.
 */
import type { Libp2p, PeerId } from "@libp2p/interface";
import { MeshTransportError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { raceAbort } from "./abort-race.ts";
import { ClientSession } from "./client-session.ts";
import type { EncodedRequestHead } from "./http-frames.ts";
import type { ProviderTransport, RequestBodySource, ResponseExchange } from "./provider-transport.ts";
import {
  DEFAULT_MAX_QUEUED_PER_PROVIDER,
  DEFAULT_MAX_SESSIONS_PER_PROVIDER,
  DEFAULT_SESSION_GROW_AT,
  DEFAULT_SESSION_IDLE_MS,
  MAX_CONCURRENT_REQUESTS_PER_SESSION,
  MESH_PROTOCOL_ID,
} from "./session-protocol.ts";

/** One dial (connection if needed, plus the protocol negotiation): 5 s, as the gateway's default. */
export const DEFAULT_SESSION_DIAL_TIMEOUT_MS = 5_000;

/** Dials of one session open when the connection found is closing under us (see `#open`). */
const DIAL_ATTEMPTS = 3;

export interface SessionTransportInit {
  /** @default {@link DEFAULT_SESSION_DIAL_TIMEOUT_MS} */
  dialTimeoutMs?: number | undefined;
  /** @default {@link DEFAULT_MAX_SESSIONS_PER_PROVIDER} */
  maxSessionsPerProvider?: number | undefined;
  /** @default {@link DEFAULT_SESSION_GROW_AT} */
  growAt?: number | undefined;
  /** Requests per session at most; never above the provider's limit. @default {@link MAX_CONCURRENT_REQUESTS_PER_SESSION} */
  maxConcurrentPerSession?: number | undefined;
  /** @default {@link DEFAULT_MAX_QUEUED_PER_PROVIDER} */
  maxQueuedPerProvider?: number | undefined;
  /** @default {@link DEFAULT_SESSION_IDLE_MS} */
  idleMs?: number | undefined;
}

export interface SessionTransportComponents {
  libp2p: Pick<Libp2p, "dialProtocol">;
  logger?: Logger | undefined;
}

/** What the pool holds, for tests and metrics. */
export interface SessionTransportStats {
  /** Session streams opened so far. */
  opened: number;
  /** Live sessions per provider PeerId. */
  sessions: Record<string, number>;
  /** Requests in flight over all sessions. */
  active: number;
  /** Response body bytes received and not yet read by the gateway, over all sessions. */
  bufferedBytes: number;
}

export interface SessionTransport extends ProviderTransport {
  stats(): SessionTransportStats;
}

/**
 * @example
 * const transport = createSessionTransport()({ libp2p });
 * const response = await transport.exchange(peer, head, body, signal);
 */
export function createSessionTransport(init: SessionTransportInit = {}): (components: SessionTransportComponents) => SessionTransport {
  return (components) => new SessionPool(init, components);
}

interface Waiter {
  wake: () => void;
}

/** The sessions to one provider. */
interface PeerSessions {
  peer: PeerId;
  sessions: ClientSession[];
  opening: Promise<ClientSession> | undefined;
  waiters: Waiter[];
  /**
   * Idle timers, one per session at most, with when the session last became idle. A timer is armed when a
   * session goes idle and, when it fires, closes the session only if it stayed idle for `idleMs` (else it
   * re-arms for the rest): no timer is made and cleared per request when requests come one at a time.
   */
  idle: Map<ClientSession, { timer: NodeJS.Timeout; since: number }>;
}

class SessionPool implements SessionTransport {
  readonly #libp2p: SessionTransportComponents["libp2p"];
  readonly #log: Logger;
  readonly #dialTimeoutMs: number;
  readonly #maxSessions: number;
  readonly #growAt: number;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #idleMs: number;
  readonly #peers = new Map<string, PeerSessions>();
  readonly #root = new AbortController();
  #opened = 0;

  constructor(init: SessionTransportInit, components: SessionTransportComponents) {
    this.#libp2p = components.libp2p;
    this.#log = (components.logger ?? createSilentLogger()).child({ module: "mesh-sessions" });
    this.#dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_SESSION_DIAL_TIMEOUT_MS;
    this.#maxSessions = Math.max(1, init.maxSessionsPerProvider ?? DEFAULT_MAX_SESSIONS_PER_PROVIDER);
    this.#maxConcurrent = Math.min(MAX_CONCURRENT_REQUESTS_PER_SESSION, Math.max(1, init.maxConcurrentPerSession ?? MAX_CONCURRENT_REQUESTS_PER_SESSION));
    this.#growAt = Math.min(this.#maxConcurrent, Math.max(1, init.growAt ?? DEFAULT_SESSION_GROW_AT));
    this.#maxQueued = Math.max(0, init.maxQueuedPerProvider ?? DEFAULT_MAX_QUEUED_PER_PROVIDER);
    this.#idleMs = init.idleMs ?? DEFAULT_SESSION_IDLE_MS;
  }

  stats(): SessionTransportStats {
    const sessions: Record<string, number> = {};
    let active = 0;
    let bufferedBytes = 0;
    for (const [key, entry] of this.#peers) {
      sessions[key] = entry.sessions.length;
      for (const session of entry.sessions) {
        active += session.active;
        bufferedBytes += session.bufferedBytes;
      }
    }
    return { opened: this.#opened, sessions, active, bufferedBytes };
  }

  exchange(peer: PeerId, head: EncodedRequestHead, body: RequestBodySource, signal: AbortSignal): Promise<ResponseExchange> {
    // The request takes its slot in the same turn as the session is chosen, so concurrent callers see it.
    return this.#acquire(peer, signal, (session) => session.request(head, body, signal));
  }

  async close(): Promise<void> {
    if (this.#root.signal.aborted) return;
    this.#root.abort(new MeshTransportError("connection-lost", "the transport is closed", { sent: false }));
    for (const entry of this.#peers.values()) {
      for (const { timer } of entry.idle.values()) clearTimeout(timer);
      for (const session of [...entry.sessions]) session.close("the gateway is stopping");
      for (const waiter of entry.waiters.splice(0)) waiter.wake();
    }
    this.#peers.clear();
  }

  /** Choose a session with a free slot (opening one or waiting for one as the policy says) and `start` on it at once. */
  async #acquire(peer: PeerId, signal: AbortSignal, start: (session: ClientSession) => Promise<ResponseExchange>): Promise<ResponseExchange> {
    const key = peer.toString();
    for (;;) {
      signal.throwIfAborted();
      if (this.#root.signal.aborted) throw new MeshTransportError("unreachable", "the transport is closed", { sent: false });
      let entry = this.#peers.get(key);
      if (entry === undefined) {
        entry = { peer, sessions: [], opening: undefined, waiters: [], idle: new Map() };
        this.#peers.set(key, entry);
      }
      let best: ClientSession | undefined;
      for (const session of entry.sessions) {
        if (session.available && (best === undefined || session.active < best.active)) best = session;
      }
      const slots = entry.sessions.length + (entry.opening === undefined ? 0 : 1);
      if (best !== undefined && (best.active < this.#growAt || slots >= this.#maxSessions)) return start(this.#use(entry, best));
      if (entry.opening === undefined && slots < this.#maxSessions) {
        entry.opening = this.#open(entry).finally(() => (entry.opening = undefined));
        entry.opening.catch(() => {});
      }
      if (entry.opening !== undefined) {
        // Every session is busy (or there is none): wait for the new one rather than pile onto the busiest.
        try {
          await raceAbort(entry.opening, signal);
        } catch (error) {
          if (signal.aborted) throw error;
          if (best?.available === true) return start(this.#use(entry, best));
          throw error instanceof MeshTransportError ? error : new MeshTransportError("unreachable", String(error), { sent: false, cause: error });
        }
        continue;
      }
      // Every session is full and no more may be opened: wait for a slot, within bounds.
      if (entry.waiters.length >= this.#maxQueued) {
        throw new MeshTransportError("overloaded", `${entry.waiters.length} requests already wait for ${key}`, { sent: false });
      }
      await this.#waitForSlot(entry, signal);
    }
  }

  #use(_entry: PeerSessions, session: ClientSession): ClientSession {
    // An idle timer armed for this session stays: when it fires it sees the session busy or recently idle.
    return session;
  }

  async #open(entry: PeerSessions): Promise<ClientSession> {
    const signal = AbortSignal.any([this.#root.signal, AbortSignal.timeout(this.#dialTimeoutMs)]);
    let stream;
    for (let attempt = 1; ; attempt++) {
      try {
        stream = await this.#libp2p.dialProtocol(entry.peer, MESH_PROTOCOL_ID, { signal });
        break;
      } catch (error) {
        // A connection that just died may still be listed for a moment: its muxer refuses new streams.
        // Give libp2p a moment to drop it, then dial again (a new connection).
        if ((error as Error).name === "ConnectionClosedError" && attempt < DIAL_ATTEMPTS && !signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
          continue;
        }
        throw new MeshTransportError("unreachable", `cannot open a session to ${entry.peer.toString()}: ${(error as Error).message}`, { sent: false, cause: error });
      }
    }
    if (this.#root.signal.aborted) {
      stream.abort(new Error("the transport is closed"));
      throw new MeshTransportError("unreachable", "the transport is closed", { sent: false });
    }
    const session = new ClientSession(stream, {
      maxConcurrent: this.#maxConcurrent,
      onSlotFreed: (freed) => this.#slotFreed(entry, freed),
      onClosed: (closed) => this.#closed(entry, closed),
    });
    this.#opened += 1;
    // Reset or half-closed by the provider before the session existed: count it as a failed dial.
    if (!session.usable) throw new MeshTransportError("unreachable", `the session to ${entry.peer.toString()} closed as it opened`, { sent: false });
    entry.sessions.push(session);
    this.#log.debug({ peer: entry.peer.toString(), sessions: entry.sessions.length }, "session opened");
    return session;
  }

  #slotFreed(entry: PeerSessions, session: ClientSession): void {
    entry.waiters.shift()?.wake();
    if (session.active > 0) return;
    if (!session.usable) {
      session.close("out of request ids");
      return;
    }
    if (this.#idleMs <= 0) return;
    const idle = entry.idle.get(session);
    if (idle !== undefined) idle.since = performance.now();
    else this.#armIdle(entry, session, performance.now(), this.#idleMs);
  }

  #armIdle(entry: PeerSessions, session: ClientSession, since: number, delayMs: number): void {
    const timer = setTimeout(() => {
      const idle = entry.idle.get(session);
      if (idle === undefined) return;
      entry.idle.delete(session);
      if (session.active > 0) return; // busy again: the next time it goes idle arms a new timer
      const left = idle.since + this.#idleMs - performance.now();
      if (left <= 0) session.close("idle");
      else this.#armIdle(entry, session, idle.since, left);
    }, delayMs);
    timer.unref();
    entry.idle.set(session, { timer, since });
  }

  #closed(entry: PeerSessions, session: ClientSession): void {
    const idle = entry.idle.get(session);
    if (idle !== undefined) clearTimeout(idle.timer);
    entry.idle.delete(session);
    entry.sessions = entry.sessions.filter((other) => other !== session);
    this.#log.debug({ peer: entry.peer.toString(), sessions: entry.sessions.length }, "session closed");
    // Waiters re-evaluate: they may open a replacement.
    for (const waiter of entry.waiters.splice(0)) waiter.wake();
    if (entry.sessions.length === 0 && entry.opening === undefined && this.#peers.get(entry.peer.toString()) === entry) {
      this.#peers.delete(entry.peer.toString());
    }
  }

  #waitForSlot(entry: PeerSessions, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        entry.waiters = entry.waiters.filter((other) => other !== waiter);
        reject(signal.reason);
      };
      entry.waiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
