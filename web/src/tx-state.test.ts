import { describe, expect, it } from "vitest";
import { describeTxState, txReducer, type TxEvent, type TxState } from "./tx-state.ts";

const h1 = `0x${"a".repeat(64)}` as const;
const h2 = `0x${"b".repeat(64)}` as const;
const run = (events: TxEvent[]) => events.reduce<TxState[]>((states, e) => [...states, txReducer(states.at(-1)!, e)], [{ status: "idle" }]);

describe("txReducer", () => {
  it("walks approve then subscribe through signing → pending → confirmed", () => {
    const states = run([
      { type: "sign", step: "approve OPEN" },
      { type: "sent", hash: h1 },
      { type: "mined", hash: h1 },
      { type: "sign", step: "subscribe" },
      { type: "sent", hash: h2 },
      { type: "mined", hash: h2 },
      { type: "finish", summary: "subscribed" },
    ]);
    expect(states.map((s) => s.status)).toEqual(["idle", "signing", "pending", "signing", "signing", "pending", "signing", "confirmed"]);
    expect(states.at(-1)).toEqual({ status: "confirmed", hashes: [h1, h2], summary: "subscribed" });
    expect(describeTxState(states[2]!)).toBe("approve OPEN: pending — transaction 0xaaaaaaaa… sent, waiting for confirmation");
  });

  it("keeps the step that failed and what was already mined", () => {
    const states = run([
      { type: "sign", step: "approve OPEN" },
      { type: "sent", hash: h1 },
      { type: "mined", hash: h1 },
      { type: "sign", step: "subscribe" },
      { type: "fail", message: "not allowed", kind: "revert" },
    ]);
    expect(states.at(-1)).toEqual({ status: "error", step: "subscribe", message: "not allowed", kind: "revert", done: [h1] });
    expect(describeTxState(states.at(-1)!)).toBe("subscribe failed: not allowed");
  });

  it("ignores out-of-order events and reads a rejection as cancelled", () => {
    expect(txReducer({ status: "idle" }, { type: "sent", hash: h1 })).toEqual({ status: "idle" });
    expect(txReducer({ status: "pending", step: "s", hash: h1, done: [] }, { type: "mined", hash: h2 }).status).toBe("pending");
    const rejected = txReducer({ status: "signing", step: "stake", done: [] }, { type: "fail", message: "you rejected the request in the wallet", kind: "rejected" });
    expect(describeTxState(rejected)).toBe("stake: cancelled — you rejected the request in the wallet");
    expect(txReducer(rejected, { type: "sign", step: "stake" })).toEqual({ status: "signing", step: "stake", done: [] });
  });
});
