/** Test fixture: timers that fire only when the test says so (raft's `tick()`, not `sleep`). */
import type { Timers } from "./announcer.ts";

export interface ManualTimers {
  timers: Timers;
  /** Delays (ms) of the timers set and not yet fired or cleared, in the order they were set. */
  pending(): number[];
  /** Fire every pending timer once; returns how many fired. */
  fireAll(): number;
}

export function createManualTimers(): ManualTimers {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 1;
  return {
    timers: {
      setTimeout(callback, ms) {
        const id = next++;
        pending.set(id, { callback, ms });
        return id;
      },
      clearTimeout(handle) {
        pending.delete(handle as number);
      },
    },
    pending: () => [...pending.values()].map((timer) => timer.ms),
    fireAll() {
      const due = [...pending.values()];
      pending.clear();
      for (const timer of due) timer.callback();
      return due.length;
    },
  };
}
