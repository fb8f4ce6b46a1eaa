// @vitest-environment jsdom
/**
 * Accessibility basics on every page: every form control and button has an accessible name (computed with the
 * ARIA algorithm testing-library uses), nothing interactive is taken out of the tab order, the current page is
 * marked in the navigation, and the palette's text colours reach WCAG AA contrast (4.5:1).
 */
import { act, cleanup, screen } from "@testing-library/react";
import { computeAccessibleName } from "dom-accessibility-api";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./app.tsx";
import { renderWithDsmp } from "./component-harness.tsx";
import { navigate } from "./router.tsx";

afterEach(cleanup);

const PAGES = ["/", "/services/1", "/operate", "/leases", "/tasks", "/network"];

/** Relative luminance and contrast ratio (WCAG 2.x). */
export function contrastRatio(fg: string, bg: string): number {
  const lum = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a! + 0.05) / (b! + 0.05);
}

describe("accessibility", () => {
  it.each(PAGES)("%s: every control has an accessible name and stays keyboard reachable", async (path) => {
    window.history.replaceState(null, "", path);
    await renderWithDsmp(<App />, { connectedChainId: 31337 });
    act(() => navigate(path));
    // Let the queries settle into their (failed: no chain here) states so the forms render.
    await screen.findByRole("main");
    await act(() => new Promise((r) => setTimeout(r, 50)));
    const controls = [...document.querySelectorAll<HTMLElement>("input, select, textarea, button, a[href]")];
    expect(controls.length).toBeGreaterThan(5);
    const unnamed = controls.filter((el) => computeAccessibleName(el).trim() === "").map((el) => el.outerHTML.slice(0, 120));
    expect(unnamed).toEqual([]);
    const untabbable = controls.filter((el) => el.getAttribute("tabindex") === "-1").map((el) => el.outerHTML.slice(0, 120));
    expect(untabbable).toEqual([]);
    expect(document.querySelectorAll('nav a[aria-current="page"]')).toHaveLength(1);
  });

  it("the operate page's forms are there for a connected wallet", async () => {
    window.history.replaceState(null, "", "/operate");
    await renderWithDsmp(<App />, { connectedChainId: 31337 });
    expect(await screen.findByLabelText("Amount to stake (OPEN)")).toBeTruthy();
    expect(screen.getByLabelText("Amount to unbond (OPEN)")).toBeTruthy();
    expect(screen.getByLabelText("Capacity slots")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Register Xnode" })).toBeTruthy();
  });

  it("text colours reach 4.5:1 on the backgrounds they are used on", () => {
    const css = readFileSync(join(process.cwd(), "web", "src", "styles.css"), "utf8");
    const v = Object.fromEntries([...css.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/g)].map((m) => [m[1]!, m[2]!]));
    const pairs: [string, string][] = [
      [v.fg!, v.bg!], [v.muted!, v.bg!], [v.fg!, v.panel!], [v.muted!, v.panel!], [v.accent!, v.bg!],
      [v.err!, v.bg!], [v.err!, v.panel!], [v.ok!, v.panel!], ["#ffffff", v.accent!], ["#101828", "#98a2b3"], ["#93370d", v.panel!], [v.fg!, "#dcfae6"],
    ];
    for (const [fg, bg] of pairs) expect(contrastRatio(fg, bg), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
  });
});
