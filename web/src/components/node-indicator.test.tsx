// @vitest-environment jsdom
/** The node indicator against a real HTTP server: online while it answers, "unreachable" once it is gone. */
import { cleanup, screen, waitFor } from "@testing-library/react";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { renderWithDsmp } from "../component-harness.tsx";
import { NodeIndicator } from "./node-indicator.tsx";

afterEach(cleanup);

describe("node indicator", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("names the node and says when it stops answering", async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
      res.end(JSON.stringify({ address: "0x1", peerId: "p", multiaddrs: [], peers: 3, chain: { chainId: 31337, syncedBlock: "42", registered: true, nodeStatus: "active" }, serving: [], apiUrl: "", gatewayUrl: "", metricsUrl: "" }));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await renderWithDsmp(<NodeIndicator />, { apiBase });
    const indicator = screen.getByTestId("node-indicator");
    expect(indicator.textContent).toContain(apiBase);
    await waitFor(() => expect(indicator.textContent).toContain("online, synced to block 42, 3 peers"), { timeout: 5_000 });
    server.closeAllConnections();
    await new Promise((r) => server!.close(r));
    server = undefined;
    await waitFor(() => expect(indicator.getAttribute("data-online")).toBe("false"), { timeout: 5_000 });
    expect(indicator.textContent).toMatch(/unreachable since .* chain reads still work/);
  });
});
