import { describe, expect, it } from "vitest";
import { filterServices } from "./pages/services-page.tsx";
import { parseRoute } from "./router.tsx";
import { nodeApiBase, parseWebConfig, WebConfigError } from "./web-config.ts";

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
const good = {
  chainId: 31337,
  rpcUrl: "http://127.0.0.1:8545",
  contracts: { OpenToken: addr(1), Staking: addr(2), XnodeRegistry: addr(3), ServiceRegistry: addr(4), Subscriptions: addr(5) },
  node: { address: addr(9), peerId: "16Uiu2" },
};

describe("web config, routes, search", () => {
  it("accepts a complete web-config and names what is missing otherwise", () => {
    expect(parseWebConfig(good)).toEqual(good);
    expect(() => parseWebConfig({ ...good, chainId: 0 })).toThrow(new WebConfigError("web-config has no valid chainId"));
    expect(() => parseWebConfig({ ...good, rpcUrl: "ws://x" })).toThrow("web-config has no http(s) rpcUrl");
    expect(() => parseWebConfig({ ...good, contracts: { ...good.contracts, Subscriptions: undefined } })).toThrow("web-config lacks the Subscriptions address");
    expect(() => parseWebConfig(null)).toThrow("not a JSON object");
  });

  it("talks to the page's origin unless ?api= names another node", () => {
    expect(nodeApiBase({ origin: "http://127.0.0.1:4662", search: "" })).toBe("http://127.0.0.1:4662");
    expect(nodeApiBase({ origin: "http://localhost:5173", search: "?api=http://127.0.0.1:4672/" })).toBe("http://127.0.0.1:4672");
  });

  it.each([
    ["/", { page: "services" }],
    ["/services/", { page: "services" }],
    ["/services/12", { page: "service", id: 12n }],
    ["/services/0", { page: "not-found", path: "/services/0" }],
    ["/operate", { page: "operate" }],
    ["/network/", { page: "network" }],
    ["/nope", { page: "not-found", path: "/nope" }],
  ])("routes %s", (path, route) => expect(parseRoute(path)).toEqual(route));

  it("searches services by name, #id, owner and visibility", () => {
    const row = (id: bigint, name: string, visibility: "public" | "private") =>
      ({ id, name, owner: addr(Number(id)), visibility }) as Parameters<typeof filterServices>[0][number];
    const rows = [row(1n, "echo", "public"), row(2n, "paid", "public"), row(3n, "private", "private")];
    expect(filterServices(rows, "pa").map((r) => r.name)).toEqual(["paid"]);
    expect(filterServices(rows, "#3").map((r) => r.name)).toEqual(["private"]);
    expect(filterServices(rows, "private").map((r) => r.name)).toEqual(["private"]);
    expect(filterServices(rows, addr(1).slice(30)).map((r) => r.name)).toEqual(["echo"]);
    expect(filterServices(rows, "  ")).toHaveLength(3);
  });
});
