/**
 * Runs one task's committee round (commit-round.ts) over libp2p: the I/O half of the state machine. It
 * subscribes to the task's gossipsub topic, verifies and feeds incoming messages, signs and publishes what
 * the actions ask, republishes its own messages until the round ends (gossipsub has no history: a member
 * whose mesh formed late still hears them), ticks the clock, and hands chain actions to a {@link RoundChain}.
 *
 * Why gossipsub and not direct streams: the committee is small but its members learn each other only from the
 * chain (node → PeerId), and gossipsub relays through any connected member, so two members without a direct
 * connection still hear each other as long as some chain of members connects them (it does not forward a topic
 * through non-subscribers: the runner dials the other members at job start, committee-dial.ts); one topic per
 * task keeps rounds apart and lets a node leave it when the task ends. Every message carries its own authentication (EIP-712 signature, or a reveal that
 * must open a signed seal), so relays need no trust.
 */
import type { GossipSub, Message } from "@libp2p/gossipsub";
import type { Address, Hex, LocalAccount, TypedDataDomain } from "viem";
import type { Logger } from "../log.ts";
import { initialRoundState, roundSummary, step, type RoundAction, type RoundEvent, type RoundParams, type RoundState } from "./commit-round.ts";
import { commitSigner, decodeRoundMessage, encodeRoundMessage, resultSigner, roundTopic, signCommit, signResult, type RoundMessage } from "./round-messages.ts";

/** Clock tick of a round (ms): deadlines are seconds apart, so 250 ms is precise enough and cheap. */
export const ROUND_TICK_MS = 250;
/** Republish own messages every second until the round ends. */
export const ROUND_REPUBLISH_MS = 1_000;

/** The chain side of a round; each returns the transaction hash. */
export interface RoundChain {
  reportResult(taskId: bigint, resultHash: Hex, participants: bigint, signatures: Hex[]): Promise<Hex>;
  anchorCommit(taskId: bigint, slot: number, seal: Hex, signature: Hex): Promise<Hex>;
  proveWrongResult(taskId: bigint, resultHash: Hex, participants: bigint, signature: Hex): Promise<Hex>;
  proveCommitEquivocation(taskId: bigint, worker: Address, sealA: Hex, signatureA: Hex, sealB: Hex, signatureB: Hex): Promise<Hex>;
}

/** Messages dropped before they reached the state machine. */
export interface RoundTransportDrops {
  malformed: number;
  badSignature: number;
  wrongTask: number;
}

export interface RoundDriverInit {
  params: RoundParams;
  account: LocalAccount;
  domain: TypedDataDomain;
  pubsub: GossipSub;
  chain: RoundChain;
  logger: Logger;
  /** @default Date.now */
  now?: () => number;
  tickMs?: number;
  republishMs?: number;
  /** Called for every action carried out (tests, metrics, CLI progress). */
  onAction?: (action: RoundAction, txHash?: Hex) => void;
  /** Called for every message dropped by the transport before the state machine (metrics). */
  onTransportDrop?: (reason: keyof RoundTransportDrops) => void;
}

export interface RoundDriver {
  readonly state: RoundState;
  readonly drops: RoundTransportDrops;
  /** Transaction hashes sent by this node in the round. */
  readonly transactions: { action: RoundAction["type"]; hash: Hex }[];
  start(): void;
  /** Our output is ready: commit to it. */
  computed(resultHash: Hex, salt: Hex): void;
  /** The chain view saw the task finalized. */
  finalized(resultHash: Hex, participants: bigint): void;
  summary(): ReturnType<typeof roundSummary>;
  stop(): void;
}

export function createRoundDriver(init: RoundDriverInit): RoundDriver {
  const { params, account, domain, pubsub, chain } = init;
  const now = init.now ?? Date.now;
  const log = init.logger.child({ module: "round", taskId: params.taskId.toString() });
  const topic = roundTopic(params.taskId);
  const state = initialRoundState(params);
  const drops: RoundTransportDrops = { malformed: 0, badSignature: 0, wrongTask: 0 };
  const transactions: { action: RoundAction["type"]; hash: Hex }[] = [];
  const own: Uint8Array[] = [];
  let ticker: ReturnType<typeof setInterval> | undefined;
  let republisher: ReturnType<typeof setInterval> | undefined;
  let stopped = false;

  const feed = (event: RoundEvent) => {
    if (stopped) return;
    const { actions } = step(state, event);
    for (const action of actions) void carryOut(action);
  };

  const publish = (message: RoundMessage) => {
    const bytes = encodeRoundMessage(message);
    own.push(bytes);
    pubsub.publish(topic, bytes).catch((err: unknown) => log.debug({ err }, "publish failed; republished later"));
  };

  const sendTx = async (action: RoundAction, send: () => Promise<Hex>) => {
    try {
      const hash = await send();
      transactions.push({ action: action.type, hash });
      log.info({ action: action.type, tx: hash }, "round transaction sent");
      init.onAction?.(action, hash);
    } catch (err) {
      log.warn({ err, action: action.type }, "round transaction failed");
    }
  };

  const carryOut = async (action: RoundAction): Promise<void> => {
    switch (action.type) {
      case "broadcastCommit": {
        const signature = await signCommit(account, domain, params.taskId, action.seal);
        publish({ v: 1, kind: "commit", taskId: params.taskId, worker: account.address, seal: action.seal, signature });
        init.onAction?.(action);
        feed({ type: "commitReceived", worker: account.address, seal: action.seal, signature, now: now() });
        return;
      }
      case "broadcastReveal":
        publish({ v: 1, kind: "reveal", taskId: params.taskId, worker: account.address, resultHash: action.resultHash, salt: action.salt });
        init.onAction?.(action);
        feed({ type: "revealReceived", worker: account.address, resultHash: action.resultHash, salt: action.salt, now: now() });
        return;
      case "signResult": {
        const signature = await signResult(account, domain, params.taskId, action.resultHash, action.participants);
        publish({ v: 1, kind: "result", taskId: params.taskId, worker: account.address, resultHash: action.resultHash, participants: action.participants, signature });
        init.onAction?.(action);
        feed({ type: "resultSigReceived", worker: account.address, resultHash: action.resultHash, participants: action.participants, signature, now: now() });
        return;
      }
      case "transmitReport":
        return sendTx(action, () => chain.reportResult(params.taskId, action.resultHash, action.participants, action.signatures));
      case "anchorCommit":
        return sendTx(action, () => chain.anchorCommit(params.taskId, action.slot, action.seal, action.signature));
      case "proveWrongResult":
        return sendTx(action, () => chain.proveWrongResult(params.taskId, action.resultHash, action.participants, action.signature));
      case "proveCommitEquivocation":
        return sendTx(action, () => chain.proveCommitEquivocation(params.taskId, action.worker, action.sealA, action.signatureA, action.sealB, action.signatureB));
      case "dropped":
        init.onAction?.(action);
        log.debug({ reason: action.reason, worker: action.worker }, "round message dropped");
        return;
    }
  };

  const onMessage = (evt: CustomEvent<Message>) => {
    if (evt.detail.topic !== topic) return;
    const message = decodeRoundMessage(evt.detail.data);
    if (message === undefined) {
      drops.malformed++;
      init.onTransportDrop?.("malformed");
      return;
    }
    if (message.taskId !== params.taskId) {
      drops.wrongTask++;
      init.onTransportDrop?.("wrongTask");
      return;
    }
    if (message.worker === account.address) return; // our own, relayed back
    void (async () => {
      switch (message.kind) {
        case "commit": {
          const signer = await commitSigner(domain, message.taskId, message.worker, message.seal, message.signature).catch(() => undefined);
          if (signer !== message.worker) {
            drops.badSignature++;
            return init.onTransportDrop?.("badSignature");
          }
          return feed({ type: "commitReceived", worker: message.worker, seal: message.seal, signature: message.signature, now: now() });
        }
        case "reveal":
          return feed({ type: "revealReceived", worker: message.worker, resultHash: message.resultHash, salt: message.salt, now: now() });
        case "result": {
          const signer = await resultSigner(domain, message.taskId, message.resultHash, message.participants, message.signature).catch(() => undefined);
          if (signer !== message.worker) {
            drops.badSignature++;
            return init.onTransportDrop?.("badSignature");
          }
          return feed({ type: "resultSigReceived", worker: message.worker, resultHash: message.resultHash, participants: message.participants, signature: message.signature, now: now() });
        }
      }
    })();
  };

  return {
    state,
    drops,
    transactions,
    start() {
      pubsub.subscribe(topic);
      pubsub.addEventListener("message", onMessage);
      ticker = setInterval(() => feed({ type: "tick", now: now() }), init.tickMs ?? ROUND_TICK_MS);
      republisher = setInterval(() => {
        for (const bytes of own) pubsub.publish(topic, bytes).catch(() => undefined);
      }, init.republishMs ?? ROUND_REPUBLISH_MS);
    },
    computed(resultHash, salt) {
      feed({ type: "resultComputed", resultHash, salt, now: now() });
    },
    finalized(resultHash, participants) {
      feed({ type: "finalized", resultHash, participants, now: now() });
    },
    summary: () => roundSummary(state),
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(ticker);
      clearInterval(republisher);
      pubsub.removeEventListener("message", onMessage);
      pubsub.unsubscribe(topic);
    },
  };
}
