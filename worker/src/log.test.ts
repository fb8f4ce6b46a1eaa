import { describe, expect, it } from "vitest";
import { createLogger, createSilentLogger } from "./log.ts";

function memoryDestination() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

describe("log", () => {
  it("writes JSON lines carrying the child's module and fields", () => {
    const { lines, destination } = memoryDestination();
    const log = createLogger({ level: "debug", name: "node-0", destination }).child({ module: "p2p" });
    log.info({ peers: 3 }, "connected");
    log.debug("detail");
    log.trace("dropped at debug level");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ name: "node-0", module: "p2p", peers: 3, msg: "connected", level: 30 });
    expect(lines[1]).toMatchObject({ module: "p2p", msg: "detail", level: 20 });
  });

  it("nests children", () => {
    const { lines, destination } = memoryDestination();
    createLogger({ destination }).child({ module: "mesh" }).child({ module: "gateway", service: "7" }).warn("slow");
    expect(lines[0]).toMatchObject({ module: "gateway", service: "7", msg: "slow" });
  });

  it("has a silent logger whose children are silent too", () => {
    const log = createSilentLogger();
    expect(() => log.child({ module: "x" }).error({ err: new Error("boom") }, "ignored")).not.toThrow();
  });
});
