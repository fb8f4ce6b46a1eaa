// @vitest-environment jsdom
/** The wallet bar: wrong chain → a prompt to switch (and switching works); the dev burner only on chain 31337. */
import { act, cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DEV_BURNER_LABEL } from "../burner-wallet.ts";
import { renderWithDsmp, TEST_ACCOUNT, testWebConfig } from "../component-harness.tsx";
import { createDsmpWagmiConfig } from "../wagmi-config.ts";
import { useWriteReady, WalletBar } from "./wallet-bar.tsx";

afterEach(cleanup);

function WriteReady() {
  const r = useWriteReady();
  return <p data-testid="ready">{r.ready ? "ready" : r.reason}</p>;
}

describe("wallet bar", () => {
  it("prompts to switch from the wrong chain, and writes wait until it is right", async () => {
    await renderWithDsmp(
      <>
        <WalletBar />
        <WriteReady />
      </>,
      { connectedChainId: 1 },
    );
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Your wallet is on chain 1; DSMP here runs on chain 31337.");
    expect(screen.getByTestId("ready").textContent).toBe("switch your wallet to chain 31337 first");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Switch to chain 31337" }));
    });
    await screen.findByText("ready");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("account").getAttribute("title")?.toLowerCase()).toBe(TEST_ACCOUNT);
  });

  it("offers a connect button per wallet when disconnected", async () => {
    await renderWithDsmp(
      <>
        <WalletBar />
        <WriteReady />
      </>,
    );
    expect(screen.getByText("not connected")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Connect Mock Connector" })).toBeTruthy();
    expect(screen.getByTestId("ready").textContent).toBe("connect a wallet to do this");
  });

  it("adds the dev burner on the devnet chain only", () => {
    const names = (chainId: number) => createDsmpWagmiConfig(testWebConfig({ chainId })).connectors.map((c) => c.name);
    expect(names(31337)).toContain(DEV_BURNER_LABEL);
    expect(names(11155111)).not.toContain(DEV_BURNER_LABEL);
  });
});
