import { describe, expect, it } from "vitest";
import { CircuitBreaker, type BreakerState } from "./circuit-breaker.ts";

type Step =
  | { at: number; do: "fail" | "succeed" | "cancel"; expect: BreakerState }
  | { at: number; do: "acquire"; granted: boolean; expect: BreakerState };

/** Runs steps against one breaker; a succeed/fail/cancel uses the permit of the last acquire (or a fresh one). */
function run(steps: readonly Step[]) {
  const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, maxOpenMs: 3000, halfOpenProbes: 1 });
  let permit = breaker.acquire(0);
  for (const [index, step] of steps.entries()) {
    if (step.do === "acquire") {
      const got = breaker.acquire(step.at);
      expect(got !== undefined, `step ${index}: granted`).toBe(step.granted);
      if (got !== undefined) permit = got;
    } else {
      const used = permit ?? { probe: false };
      if (step.do === "fail") breaker.onFailure(step.at, used);
      else if (step.do === "succeed") breaker.onSuccess(step.at, used);
      else breaker.onCancel(used);
      permit = breaker.state(step.at) === "closed" ? { probe: false } : undefined;
    }
    expect(breaker.state(step.at), `step ${index}: state`).toBe(step.expect);
  }
  return breaker;
}

describe("CircuitBreaker", () => {
  it.each<[string, Step[]]>([
    ["stays closed below the threshold", [
      { at: 0, do: "fail", expect: "closed" },
      { at: 1, do: "fail", expect: "closed" },
      { at: 2, do: "succeed", expect: "closed" },
      { at: 3, do: "fail", expect: "closed" },
      { at: 4, do: "fail", expect: "closed" },
    ]],
    ["opens on the third failure in a row and refuses requests", [
      { at: 0, do: "fail", expect: "closed" },
      { at: 1, do: "fail", expect: "closed" },
      { at: 2, do: "fail", expect: "open" },
      { at: 500, do: "acquire", granted: false, expect: "open" },
      { at: 1001, do: "acquire", granted: false, expect: "open" },
    ]],
    ["turns half-open after the backoff, lets one probe through, and closes on its success", [
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "open" },
      { at: 1000, do: "acquire", granted: true, expect: "half-open" },
      { at: 1001, do: "acquire", granted: false, expect: "half-open" },
      { at: 1010, do: "succeed", expect: "closed" },
      { at: 1011, do: "acquire", granted: true, expect: "closed" },
    ]],
    ["reopens for twice as long when the probe fails, capped at maxOpenMs", [
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "open" },
      { at: 1000, do: "acquire", granted: true, expect: "half-open" },
      { at: 1000, do: "fail", expect: "open" },
      { at: 2999, do: "acquire", granted: false, expect: "open" },
      { at: 3000, do: "acquire", granted: true, expect: "half-open" },
      { at: 3000, do: "fail", expect: "open" },
      { at: 5999, do: "acquire", granted: false, expect: "open" },
      { at: 6000, do: "acquire", granted: true, expect: "half-open" },
      { at: 6000, do: "fail", expect: "open" },
      { at: 9000, do: "acquire", granted: true, expect: "half-open" },
    ]],
    ["a cancelled probe frees its slot without deciding", [
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "open" },
      { at: 1000, do: "acquire", granted: true, expect: "half-open" },
      { at: 1001, do: "cancel", expect: "half-open" },
      { at: 1002, do: "acquire", granted: true, expect: "half-open" },
    ]],
  ])("%s", (_name, steps) => {
    run(steps);
  });

  it("starts the backoff over once closed again", () => {
    const breaker = run([
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "closed" },
      { at: 0, do: "fail", expect: "open" },
      { at: 1000, do: "acquire", granted: true, expect: "half-open" },
      { at: 1000, do: "fail", expect: "open" },
      { at: 3000, do: "acquire", granted: true, expect: "half-open" },
      { at: 3000, do: "succeed", expect: "closed" },
    ]);
    for (let i = 0; i < 3; i++) breaker.onFailure(4000, { probe: false });
    expect(breaker.openUntil).toBe(5000);
  });
});
