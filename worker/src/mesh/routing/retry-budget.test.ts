import { describe, expect, it } from "vitest";
import { RetryBudget } from "./retry-budget.ts";

describe("RetryBudget", () => {
  it.each([
    // [requests at t=0, retries asked at t=0, granted]: reserve = 1/s × 10 s = 10; ratio 0.2
    [0, 12, 10],
    [10, 20, 12],
    [100, 50, 30],
    [1000, 500, 210],
  ])("%i requests then %i retries: %i granted", (requests, asked, granted) => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, ttlMs: 10_000 });
    for (let i = 0; i < requests; i++) budget.deposit(0);
    let got = 0;
    for (let i = 0; i < asked; i++) if (budget.tryWithdraw(0)) got += 1;
    expect(got).toBe(granted);
  });

  it("lets deposits and withdrawals expire after the window", () => {
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, ttlMs: 10_000 });
    for (let i = 0; i < 10; i++) budget.deposit(0);
    expect(budget.balance(0)).toBe(5);
    for (let i = 0; i < 5; i++) expect(budget.tryWithdraw(500)).toBe(true);
    expect(budget.tryWithdraw(500)).toBe(false);
    // 9.9 s later the first slot is still inside the window.
    expect(budget.balance(9_900)).toBe(0);
    // Past the window: both the deposits and the retries are gone.
    expect(budget.balance(10_000)).toBe(0);
    budget.deposit(10_000);
    budget.deposit(10_000);
    expect(budget.balance(10_000)).toBe(1);
    expect(budget.balance(25_000)).toBe(0);
  });

  it("keeps retries near ratio × requests under steady load with every request failing", () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 });
    let retries = 0;
    // 100 requests per second for 60 s, each wanting one retry.
    for (let ms = 0; ms < 60_000; ms += 10) {
      budget.deposit(ms);
      if (budget.tryWithdraw(ms)) retries += 1;
    }
    // 20 % of 6000 plus the 10/s reserve (at most 100 per 10 s window, 600 over 60 s).
    expect(retries).toBeGreaterThanOrEqual(1200);
    expect(retries).toBeLessThanOrEqual(1200 + 600);
  });
});
