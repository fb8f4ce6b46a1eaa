import { describe, expect, it } from "vitest";
import { DEFAULT_REQUEST_WINDOW_BYTES, MAX_CREDIT, ReceiveWindow, SendCredit } from "./flow-credit.ts";

describe("SendCredit", () => {
  it.each([
    // [initial, steps, available after]
    [100, [["take", 40, 40]], 60],
    [100, [["take", 150, 100]], 0],
    [0, [["take", 10, 0]], 0],
    [10, [["take", 10, 10], ["grant", 5, true], ["take", 8, 5]], 0],
    [MAX_CREDIT - 1, [["grant", 1, true], ["grant", 1, false]], MAX_CREDIT],
  ] as Array<[number, Array<["take" | "grant", number, number | boolean]>, number]>)("from %i: %j", (initial, steps, after) => {
    const credit = new SendCredit(initial);
    for (const [op, amount, expected] of steps) {
      expect(op === "take" ? credit.take(amount) : credit.grant(amount)).toBe(expected);
    }
    expect(credit.available).toBe(after);
  });
});

describe("ReceiveWindow", () => {
  it("refuses bytes beyond the window and grants back in batches of at least half the window", () => {
    const window = new ReceiveWindow(100);
    expect(window.receive(60)).toBe(true);
    expect(window.receive(41)).toBe(false); // 40 left
    expect(window.remaining).toBe(40);
    expect(window.consume(30)).toBe(0); // below half: no WINDOW yet
    expect(window.consume(30)).toBe(60); // 60 ≥ 50: grant all consumed
    expect(window.remaining).toBe(100);
    expect(window.receive(100)).toBe(true);
    expect(window.receive(1)).toBe(false);
  });

  it("keeps a sender and a receiver in step: the sender never exceeds what the receiver accepts", () => {
    const sender = new SendCredit();
    const receiver = new ReceiveWindow();
    let delivered = 0;
    const total = 10 * 1024 * 1024;
    let sent = 0;
    let grants = 0;
    while (delivered < total) {
      const taken = sender.take(Math.min(64 * 1024, total - sent));
      sent += taken;
      expect(receiver.receive(taken)).toBe(true);
      // The consumer reads 10 KiB at a time, so credit comes back in uneven batches.
      for (let consumed = 0; consumed < taken; consumed += 10 * 1024) {
        const increment = receiver.consume(Math.min(10 * 1024, taken - consumed));
        if (increment > 0) {
          grants += 1;
          expect(sender.grant(increment)).toBe(true);
        }
      }
      delivered += taken;
      expect(sender.available + (DEFAULT_REQUEST_WINDOW_BYTES - receiver.remaining)).toBeLessThanOrEqual(DEFAULT_REQUEST_WINDOW_BYTES);
    }
    expect(delivered).toBe(total);
    // One WINDOW per ~128 KiB, not one per frame.
    expect(grants).toBeLessThanOrEqual(total / (DEFAULT_REQUEST_WINDOW_BYTES / 2) + 1);
  });
});
