/** A small path router over the History API (the node's static handler falls back to index.html). */
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from "react";

export type Route =
  | { page: "services" }
  | { page: "service"; id: bigint }
  | { page: "operate" }
  | { page: "leases" }
  | { page: "tasks" }
  | { page: "network" }
  | { page: "not-found"; path: string };

/** Pure: a pathname → the route. */
export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/services") return { page: "services" };
  const m = /^\/services\/([1-9][0-9]{0,77})$/.exec(path);
  if (m) return { page: "service", id: BigInt(m[1]!) };
  if (path === "/operate") return { page: "operate" };
  if (path === "/leases") return { page: "leases" };
  if (path === "/tasks") return { page: "tasks" };
  if (path === "/network") return { page: "network" };
  return { page: "not-found", path };
}

const listeners = new Set<() => void>();
export function navigate(to: string) {
  window.history.pushState(null, "", to + window.location.search);
  for (const l of listeners) l();
  if (!navigator.userAgent.includes("jsdom")) window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [path, setPath] = useState(() => window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return parseRoute(path);
}

export function Link({ to, children, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
