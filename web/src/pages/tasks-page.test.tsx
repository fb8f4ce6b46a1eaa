// @vitest-environment jsdom
/** The Tasks page: the form checks its fields before any transaction, every control is named, and the page says so when TaskManager is absent. */
import { act, cleanup, fireEvent, screen } from "@testing-library/react";
import { computeAccessibleName } from "dom-accessibility-api";
import { afterEach, describe, expect, it } from "vitest";
import { renderWithDsmp, testWebConfig } from "../component-harness.tsx";
import { GoldenSignals } from "./service-page.tsx";
import { TasksPage } from "./tasks-page.tsx";

afterEach(cleanup);

const withTasks = () => testWebConfig({ contracts: { ...testWebConfig().contracts, TaskManager: "0x00000000000000000000000000000000000000a7" } });

describe("Tasks page", () => {
  it("says TaskManager is missing when the deployment has none", async () => {
    await renderWithDsmp(<TasksPage />, { connectedChainId: 31337 });
    expect(screen.getByTestId("tasks-missing").textContent).toContain("TaskManager not deployed on this chain");
    expect(screen.queryByRole("button", { name: "Submit task" })).toBeNull();
  });

  it("names every control, labels evm_mine as dev-only, and refuses a form without a module or with q > n before any transaction", async () => {
    await renderWithDsmp(<TasksPage />, { web: withTasks(), connectedChainId: 31337 });
    const controls = [...document.querySelectorAll<HTMLElement>("input, select, textarea, button")];
    expect(controls.length).toBeGreaterThan(8);
    expect(controls.filter((el) => computeAccessibleName(el).trim() === "").map((el) => el.outerHTML.slice(0, 100))).toEqual([]);
    expect(screen.getByTestId("dev-mining").textContent).toMatch(/^dev-only \(chain 31337\)/);

    fireEvent.change(screen.getByLabelText("Committee size n"), { target: { value: "2" } });
    fireEvent.change(screen.getByLabelText("Quorum q"), { target: { value: "3" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Submit task" }));
    });
    expect(screen.getByText("pick a WebAssembly module (.wasm)")).toBeTruthy();
    expect(screen.getByText("quorum is a whole number from 1 to 2")).toBeTruthy();
    expect(screen.getByLabelText("Quorum q").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("task-tx").getAttribute("data-status")).toBe("idle");

    fireEvent.click(screen.getByLabelText("file"));
    expect(screen.getByLabelText("Input file")).toBeTruthy();
    expect(screen.queryByLabelText("Input text")).toBeNull();
  });

  it("not on 31337: no evm_mine note", async () => {
    await renderWithDsmp(<TasksPage />, { web: { ...withTasks(), chainId: 8453 } });
    expect(screen.queryByTestId("dev-mining")).toBeNull();
    expect(screen.getByRole("button", { name: "Submit task" }).hasAttribute("disabled")).toBe(true);
  });
});

describe("GoldenSignals", () => {
  it("shows the total and one row per provider", async () => {
    await renderWithDsmp(<GoldenSignals stats={{ requests: 110, successRate: 0.909, rps: 21.4, p50Ms: 3.1, p95Ms: 9.8, p99Ms: 14.2, providers: [{ provider: "12D3KooWabcdefgh", requests: 0, breaker: "open" }] }} />);
    const rows = [...screen.getByTestId("golden-signals").querySelectorAll("tbody tr")].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([
      ["all providers", "110", "90.9 %", "21.4", "3.1 ms", "9.8 ms", "14.2 ms", ""],
      ["12D3KooWabcd…", "0", "—", "—", "—", "—", "—", "open"],
    ]);
  });
});
