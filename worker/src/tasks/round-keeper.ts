/**
 * Who moves a stalled task on, and when: automatic reallocation (whitepaper §8.1, docs/tasks.md). Pure.
 *
 * When a round's report deadline passes without finalization and some seated member never anchored a commit,
 * `TaskManager.reallocate` vacates those silent members (they lose the no-show penalty) and schedules a new
 * draw; once the draw's seed block is mined, `TaskManager.assign` seats replacements. Anyone may call either.
 * The members that anchored are the ones with a stake in it — their collateral stays locked and their reward
 * waits until the task ends — so they do, in slot order: the lowest anchored slot first, the next one
 * `staggerMs` later if the task still has not moved, and so on. One transaction in the common case; a keeper
 * that died delays the task by one stagger, not forever. Members that did not anchor are not keepers (they are
 * the ones being replaced).
 *
 * The stagger counts from what every member sees alike, on the chain: for `reallocate`, from when this node first
 * saw a block stamped after the report deadline (the contract compares with the block's timestamp, so before
 * such a block exists nobody can act, and afterwards all ranks would otherwise become due at once); for the
 * `assign` of a reallocated round, from when it first saw the draw's seed block mined. The stagger must exceed
 * a block time plus propagation, or a second keeper's transaction is mined, reverts and costs gas.
 * The first draw of a fresh task is the submitter's (`dsmp task submit` assigns it).
 *
 * A development chain mines only on transactions, so nothing past a deadline ever appears by itself: the
 * decision says when a keeper of this rank should ask for a block (`mineAtMs`).
 */

/** Wall-clock time past the report deadline before a dev-chain keeper asks for a block (ms). */
export const KEEPER_DEADLINE_MARGIN_MS = 1_000;

/** A task as the keeper needs it (TaskManager.getTask, with deadlines in ms). */
export interface KeeperTaskView {
  status: "none" | "pending" | "active" | "finalized" | "refunded" | string;
  round: number;
  /** Bitmap of seated slots. */
  seated: number;
  /** Bitmap of slots that anchored a commit this round. */
  anchored: number;
  /** End of the round's report window (ms since the epoch, chain time). */
  reportDeadlineMs: number;
  /** The block whose hash seeds the pending draw. */
  drawBlock: bigint;
}

export interface KeeperContext {
  /** This node's slot in the task's committee. */
  selfSlot: number;
  /** Now, on the node's clock (ms since the epoch). */
  nowMs: number;
  /** Newest mined block and its timestamp (ms). */
  blockNumber: bigint;
  blockTimeMs: number;
  /** Delay between consecutive keepers (ms); more than a block time. */
  staggerMs: number;
  /** TaskManager's `maxRounds` (first draw + reallocations). */
  maxRounds: number;
  /** When this node first saw a block stamped after the report deadline (ms, its clock); undefined before. */
  windowClosedSinceMs?: number | undefined;
  /** When this node first saw `blockNumber > drawBlock` for the pending draw (ms, its clock); undefined before. */
  drawReadySinceMs?: number | undefined;
  /** When this node first saw the task pending in this round (ms, its clock): origin of dev-chain mining. */
  pendingSinceMs?: number | undefined;
}

type Wait = {
  type: "wait";
  reason: "report-window-open" | "earlier-keeper" | "draw-block";
  rank: number;
  /** Act again at or after this time (ms, the node's clock). */
  untilMs?: number;
  /** Or once this block is mined. */
  untilBlock?: bigint;
  /** On a chain that mines only on transactions: ask for a block from this time on (ms, the node's clock). */
  mineAtMs?: number;
};

export type KeeperAction =
  | { type: "reallocate" }
  | { type: "assign" }
  | Wait
  /** Nothing this node can or should do for this task. */
  | { type: "none"; reason: "closed" | "not-a-keeper" | "no-silent-member" | "rounds-exhausted" | "first-draw" };

/** Slots set in `bitmap`, ascending. */
function slots(bitmap: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < 32; s++) if (((bitmap >>> s) & 1) === 1) out.push(s);
  return out;
}

/**
 * What this node should do for a task that may be stalled.
 * @example
 * keeperAction({ status: "active", round: 0, seated: 0b111, anchored: 0b011, reportDeadlineMs: 10_000, drawBlock: 5n },
 *   { selfSlot: 1, nowMs: 15_000, blockNumber: 9n, blockTimeMs: 12_000, windowClosedSinceMs: 13_000, staggerMs: 15_000, maxRounds: 3 })
 * // → { type: "wait", reason: "earlier-keeper", untilMs: 28_000, rank: 1, … } until 28 000, then { type: "reallocate" }
 */
export function keeperAction(task: KeeperTaskView, ctx: KeeperContext): KeeperAction {
  if (task.status === "active") {
    const keepers = slots(task.anchored & task.seated);
    const rank = keepers.indexOf(ctx.selfSlot);
    if (rank < 0) return { type: "none", reason: "not-a-keeper" };
    if ((task.seated & ~task.anchored) === 0) return { type: "none", reason: "no-silent-member" };
    if (task.round + 1 >= ctx.maxRounds) return { type: "none", reason: "rounds-exhausted" };
    const mineAtMs = task.reportDeadlineMs + KEEPER_DEADLINE_MARGIN_MS + rank * ctx.staggerMs;
    if (ctx.blockTimeMs <= task.reportDeadlineMs || ctx.windowClosedSinceMs === undefined) {
      return { type: "wait", reason: "report-window-open", rank, mineAtMs };
    }
    const mine = ctx.windowClosedSinceMs + rank * ctx.staggerMs;
    if (ctx.nowMs < mine) return { type: "wait", reason: "earlier-keeper", untilMs: mine, rank };
    return { type: "reallocate" };
  }
  if (task.status === "pending") {
    if (task.round === 0) return { type: "none", reason: "first-draw" };
    const rank = slots(task.seated).indexOf(ctx.selfSlot);
    if (rank < 0) return { type: "none", reason: "not-a-keeper" };
    if (ctx.blockNumber <= task.drawBlock || ctx.drawReadySinceMs === undefined) {
      return { type: "wait", reason: "draw-block", untilBlock: task.drawBlock + 1n, rank, mineAtMs: (ctx.pendingSinceMs ?? ctx.nowMs) + rank * ctx.staggerMs };
    }
    const mine = ctx.drawReadySinceMs + rank * ctx.staggerMs;
    if (ctx.nowMs < mine) return { type: "wait", reason: "earlier-keeper", untilMs: mine, rank };
    return { type: "assign" };
  }
  return { type: "none", reason: "closed" };
}
