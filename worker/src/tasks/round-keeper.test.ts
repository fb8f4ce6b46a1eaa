import { describe, expect, it } from "vitest";
import { KEEPER_DEADLINE_MARGIN_MS, keeperAction, type KeeperAction, type KeeperContext, type KeeperTaskView } from "./round-keeper.ts";

const DEADLINE = 100_000;
const STAGGER = 15_000;
const MARGIN = KEEPER_DEADLINE_MARGIN_MS;
/** A block stamped after the deadline was first seen at this time (12 s blocks: a while after the deadline). */
const CLOSED = DEADLINE + 9_000;

/** Round 0 of an n = 3 task: slots 0 and 2 anchored, slot 1 silent. */
const stalled: KeeperTaskView = { status: "active", round: 0, seated: 0b111, anchored: 0b101, reportDeadlineMs: DEADLINE, drawBlock: 10n };
/** After reallocate: slot 1 vacated, a draw pending on block 20. */
const redraw: KeeperTaskView = { status: "pending", round: 1, seated: 0b101, anchored: 0, reportDeadlineMs: DEADLINE, drawBlock: 20n };
/** The newest block is stamped after the deadline and was first seen at CLOSED. */
const closed = { blockTimeMs: DEADLINE + 2_000, windowClosedSinceMs: CLOSED };
const ctx = (over: Partial<KeeperContext>): KeeperContext => ({ selfSlot: 0, nowMs: CLOSED, blockNumber: 15n, blockTimeMs: DEADLINE - 5_000, staggerMs: STAGGER, maxRounds: 3, ...over });

describe("keeperAction", () => {
  const rows: [string, KeeperTaskView, Partial<KeeperContext>, KeeperAction][] = [
    // Reallocation of an active round: the contract compares with a block's timestamp.
    ["no block after the deadline yet: wait (a dev chain mines from deadline + margin)", stalled, { nowMs: DEADLINE + 5_000 }, { type: "wait", reason: "report-window-open", rank: 0, mineAtMs: DEADLINE + MARGIN }],
    ["the second keeper would mine one stagger later", stalled, { selfSlot: 2, nowMs: DEADLINE + 5_000 }, { type: "wait", reason: "report-window-open", rank: 1, mineAtMs: DEADLINE + MARGIN + STAGGER }],
    ["a block exactly at the deadline is not after it", stalled, { blockTimeMs: DEADLINE, windowClosedSinceMs: CLOSED }, { type: "wait", reason: "report-window-open", rank: 0, mineAtMs: DEADLINE + MARGIN }],
    ["a block after the deadline, first seen now: the first keeper acts", stalled, { ...closed, nowMs: CLOSED }, { type: "reallocate" }],
    ["the second keeper waits one stagger from that block, not from the deadline", stalled, { ...closed, selfSlot: 2, nowMs: CLOSED + STAGGER - 1 }, { type: "wait", reason: "earlier-keeper", untilMs: CLOSED + STAGGER, rank: 1 }],
    ["the second keeper acts after one stagger", stalled, { ...closed, selfSlot: 2, nowMs: CLOSED + STAGGER }, { type: "reallocate" }],
    ["the silent member is no keeper", stalled, { ...closed, selfSlot: 1, nowMs: CLOSED + 10 * STAGGER }, { type: "none", reason: "not-a-keeper" }],
    ["everyone anchored: nothing to reallocate (no quorum is a disagreement, not silence)", { ...stalled, anchored: 0b111 }, closed, { type: "none", reason: "no-silent-member" }],
    ["nobody anchored: no keeper among the committee", { ...stalled, anchored: 0 }, { ...closed, nowMs: CLOSED + 10 * STAGGER }, { type: "none", reason: "not-a-keeper" }],
    ["last round: the submitter claims instead", { ...stalled, round: 2 }, closed, { type: "none", reason: "rounds-exhausted" }],
    ["an anchored bit of a vacant slot does not make a keeper", { ...stalled, seated: 0b011, anchored: 0b101 }, { ...closed, selfSlot: 2 }, { type: "none", reason: "not-a-keeper" }],
    // Assign of a reallocated round.
    ["draw block not mined yet (a dev chain's first keeper mines at once)", redraw, { blockNumber: 20n, pendingSinceMs: 5_000, nowMs: 5_000 }, { type: "wait", reason: "draw-block", untilBlock: 21n, rank: 0, mineAtMs: 5_000 }],
    ["the second seated member would mine one stagger after it saw the task pending", redraw, { selfSlot: 2, blockNumber: 20n, pendingSinceMs: 5_000, nowMs: 6_000 }, { type: "wait", reason: "draw-block", untilBlock: 21n, rank: 1, mineAtMs: 5_000 + STAGGER }],
    ["draw block mined but not yet seen by this node", redraw, { blockNumber: 21n, pendingSinceMs: 5_000, nowMs: 6_000 }, { type: "wait", reason: "draw-block", untilBlock: 21n, rank: 0, mineAtMs: 5_000 }],
    ["first seated member assigns as soon as the seed block is mined", redraw, { blockNumber: 21n, drawReadySinceMs: 5_000, nowMs: 5_000 }, { type: "assign" }],
    ["second seated member waits one stagger from when it saw the block", redraw, { selfSlot: 2, blockNumber: 21n, drawReadySinceMs: 5_000, nowMs: 5_000 }, { type: "wait", reason: "earlier-keeper", untilMs: 5_000 + STAGGER, rank: 1 }],
    ["second seated member assigns after its stagger", redraw, { selfSlot: 2, blockNumber: 22n, drawReadySinceMs: 5_000, nowMs: 5_000 + STAGGER }, { type: "assign" }],
    ["a vacated member does not assign", redraw, { selfSlot: 1, blockNumber: 30n, drawReadySinceMs: 0, nowMs: 99_999 }, { type: "none", reason: "not-a-keeper" }],
    ["the first draw is the submitter's", { ...redraw, round: 0, seated: 0 }, { blockNumber: 30n, drawReadySinceMs: 0 }, { type: "none", reason: "first-draw" }],
    // Closed tasks.
    ["finalized", { ...stalled, status: "finalized" }, { ...closed, nowMs: CLOSED + 10 * STAGGER }, { type: "none", reason: "closed" }],
    ["refunded", { ...stalled, status: "refunded" }, { ...closed, nowMs: CLOSED + 10 * STAGGER }, { type: "none", reason: "closed" }],
    ["unknown task", { ...stalled, status: "none" }, closed, { type: "none", reason: "closed" }],
  ];
  it.each(rows)("%s", (_name, task, over, expected) => {
    expect(keeperAction(task, ctx(over))).toEqual(expected);
  });

  it("keepers join one stagger apart in slot order, counted from the first block past the deadline; none acts before it", () => {
    const task: KeeperTaskView = { ...stalled, seated: 0b1111111, anchored: 0b1011011 };
    const keepers = [0, 1, 3, 4, 6];
    // Before any block past the deadline: nobody, however late the clock says it is.
    for (const slot of keepers) expect(keeperAction(task, ctx({ selfSlot: slot, nowMs: DEADLINE + 60_000 })).type).toBe("wait");
    for (let t = CLOSED; t < CLOSED + 6 * STAGGER; t += 2_500) {
      const acting = keepers.filter((slot) => keeperAction(task, ctx({ ...closed, selfSlot: slot, nowMs: t })).type === "reallocate");
      // Keeper k joins at CLOSED + k·STAGGER; everyone from rank 0 to that k acts (the earlier ones retry too).
      expect(acting).toEqual(keepers.slice(0, Math.min(5, Math.floor((t - CLOSED) / STAGGER) + 1)));
    }
  });
});
