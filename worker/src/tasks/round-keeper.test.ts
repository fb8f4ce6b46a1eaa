import { describe, expect, it } from "vitest";
import { KEEPER_DEADLINE_MARGIN_MS, keeperAction, type KeeperAction, type KeeperContext, type KeeperTaskView } from "./round-keeper.ts";

const DEADLINE = 100_000;
const STAGGER = 3_000;
const OPEN = DEADLINE + KEEPER_DEADLINE_MARGIN_MS;

/** Round 0 of an n = 3 task: slots 0 and 2 anchored, slot 1 silent. */
const stalled: KeeperTaskView = { status: "active", round: 0, seated: 0b111, anchored: 0b101, reportDeadlineMs: DEADLINE, drawBlock: 10n };
/** After reallocate: slot 1 vacated, a draw pending on block 20. */
const redraw: KeeperTaskView = { status: "pending", round: 1, seated: 0b101, anchored: 0, reportDeadlineMs: DEADLINE, drawBlock: 20n };
const ctx = (over: Partial<KeeperContext>): KeeperContext => ({ selfSlot: 0, nowMs: OPEN, blockNumber: 15n, staggerMs: STAGGER, maxRounds: 3, ...over });

describe("keeperAction", () => {
  const rows: [string, KeeperTaskView, Partial<KeeperContext>, KeeperAction][] = [
    // Reallocation of an active round.
    ["report window still open: wait for its end", stalled, { nowMs: DEADLINE }, { type: "wait", reason: "report-window-open", untilMs: OPEN, rank: 0 }],
    ["exactly at the deadline (margin not over)", stalled, { nowMs: OPEN - 1 }, { type: "wait", reason: "report-window-open", untilMs: OPEN, rank: 0 }],
    ["first keeper acts once the window closed", stalled, { nowMs: OPEN }, { type: "reallocate" }],
    ["second keeper waits one stagger", stalled, { selfSlot: 2, nowMs: OPEN }, { type: "wait", reason: "earlier-keeper", untilMs: OPEN + STAGGER, rank: 1 }],
    ["second keeper, window still open, is told its own time", stalled, { selfSlot: 2, nowMs: DEADLINE }, { type: "wait", reason: "report-window-open", untilMs: OPEN + STAGGER, rank: 1 }],
    ["second keeper acts after one stagger", stalled, { selfSlot: 2, nowMs: OPEN + STAGGER }, { type: "reallocate" }],
    ["the silent member is no keeper", stalled, { selfSlot: 1, nowMs: OPEN + 10 * STAGGER }, { type: "none", reason: "not-a-keeper" }],
    ["everyone anchored: nothing to reallocate (no quorum is a disagreement, not silence)", { ...stalled, anchored: 0b111 }, {}, { type: "none", reason: "no-silent-member" }],
    ["nobody anchored: no keeper among the committee", { ...stalled, anchored: 0 }, { nowMs: OPEN + 10 * STAGGER }, { type: "none", reason: "not-a-keeper" }],
    ["last round: the submitter claims instead", { ...stalled, round: 2 }, {}, { type: "none", reason: "rounds-exhausted" }],
    ["an anchored bit of a vacant slot does not make a keeper", { ...stalled, seated: 0b011, anchored: 0b101 }, { selfSlot: 2 }, { type: "none", reason: "not-a-keeper" }],
    // Assign of a reallocated round.
    ["draw block not mined yet", redraw, { blockNumber: 20n }, { type: "wait", reason: "draw-block", untilBlock: 21n, rank: 0 }],
    ["draw block mined but not yet seen by this node", redraw, { blockNumber: 21n }, { type: "wait", reason: "draw-block", untilBlock: 21n, rank: 0 }],
    ["first seated member assigns as soon as the seed block is mined", redraw, { blockNumber: 21n, drawReadySinceMs: 5_000, nowMs: 5_000 }, { type: "assign" }],
    ["second seated member waits one stagger from when it saw the block", redraw, { selfSlot: 2, blockNumber: 21n, drawReadySinceMs: 5_000, nowMs: 5_000 }, { type: "wait", reason: "earlier-keeper", untilMs: 8_000, rank: 1 }],
    ["second seated member assigns after its stagger", redraw, { selfSlot: 2, blockNumber: 22n, drawReadySinceMs: 5_000, nowMs: 8_000 }, { type: "assign" }],
    ["a vacated member does not assign", redraw, { selfSlot: 1, blockNumber: 30n, drawReadySinceMs: 0, nowMs: 99_999 }, { type: "none", reason: "not-a-keeper" }],
    ["the first draw is the submitter's", { ...redraw, round: 0, seated: 0 }, { blockNumber: 30n, drawReadySinceMs: 0 }, { type: "none", reason: "first-draw" }],
    // Closed tasks.
    ["finalized", { ...stalled, status: "finalized" }, { nowMs: OPEN + 10 * STAGGER }, { type: "none", reason: "closed" }],
    ["refunded", { ...stalled, status: "refunded" }, { nowMs: OPEN + 10 * STAGGER }, { type: "none", reason: "closed" }],
    ["unknown task", { ...stalled, status: "none" }, {}, { type: "none", reason: "closed" }],
  ];
  it.each(rows)("%s", (_name, task, over, expected) => {
    expect(keeperAction(task, ctx(over))).toEqual(expected);
  });

  it("keepers join one stagger apart, in slot order; a later keeper never acts before an earlier one", () => {
    const task: KeeperTaskView = { ...stalled, seated: 0b1111111, anchored: 0b1011011 };
    for (let t = OPEN; t < OPEN + 6 * STAGGER; t += 500) {
      const acting = [0, 1, 3, 4, 6].filter((slot) => keeperAction(task, ctx({ selfSlot: slot, nowMs: t })).type === "reallocate");
      // Keeper k joins at OPEN + k·STAGGER; everyone from rank 0 to that k acts (the earlier ones retry too).
      const expectedCount = Math.min(5, Math.floor((t - OPEN) / STAGGER) + 1);
      expect(acting).toEqual([0, 1, 3, 4, 6].slice(0, expectedCount));
    }
  });
});
