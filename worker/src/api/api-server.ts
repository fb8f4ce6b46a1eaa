/**
 * The node's HTTP control surface: `/healthz` (liveness + readiness checks), `/metrics` (Prometheus text),
 * and JSON routes under `/v1/` that the CLI and the web UI use. Route handlers are plain async functions;
 * a DsmpError becomes a JSON error body with its `code`, anything else a 500 without internals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { toJson } from "../bigint-json.ts";
import { ApiBadRequestError, ApiNotFoundError, DsmpError } from "../errors.ts";
import { DEFAULT_GATEWAY_PORT } from "../config.ts";

/** Paths of the gateway (`/svc/<id>/…`, `/providers/<id>`): a client that took the wrong port gets a JSON 404 saying so. */
const GATEWAY_PATH = /^\/(svc|providers)(\/|$)/;
/** Paths that are never web UI pages: a miss is a JSON 404, not the app's index.html. */
const NOT_A_PAGE = /^\/(v1|svc|providers|metrics|health|healthz)(\/|$)/;
import type { Logger } from "../log.ts";

/** Most bytes a JSON request body may have. */
export const API_MAX_BODY_BYTES = 1 << 20;

export interface HealthCheck {
  /** Short name, e.g. `chain`, `p2p`. */
  name: string;
  /** Resolves to `ok: false` (with a reason) when the subsystem cannot do its work. */
  check(): Promise<{ ok: boolean; detail?: string }>;
}

export interface ApiRequest {
  method: string;
  path: string;
  /** Path parameters named in the route pattern (`/v1/services/:id`). */
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export type ApiHandler = (req: ApiRequest) => Promise<unknown>;

export interface ApiRoute {
  method: "GET" | "POST" | "DELETE";
  /** Segments starting with `:` are parameters. */
  pattern: string;
  handler: ApiHandler;
}

export interface ApiServerInit {
  host: string;
  port: number;
  /**
   * `Host` header names accepted besides loopback (`localhost`, `127.0.0.1`, `[::1]`) and `host`
   * (config `api.allowedHosts`); see {@link isAllowedHostHeader}.
   */
  allowedHosts?: readonly string[];
  registry: Registry;
  checks?: HealthCheck[];
  routes?: ApiRoute[];
  /**
   * Asked for requests no route matches (e.g. the web UI's static files, see static-files.ts); returns true
   * when it answered. Without it, or when it returns false, the request gets the JSON 404.
   */
  fallback?: (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;
  logger: Logger;
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

const STATUS_BY_CODE: Record<string, number> = {
  API_NOT_FOUND: 404,
  API_BAD_REQUEST: 400,
  CONFIG_INVALID: 400,
  RECORD_INVALID: 400,
};

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (err) {
    throw new ApiBadRequestError(`malformed path segment "${segment}"`, { cause: err });
  }
}

/** Host names every API accepts: the loopback names a local CLI or browser uses. */
export const API_LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/** The host name of a `Host` header value, lowercased, without port or trailing dot; undefined when malformed. */
export function hostNameOf(hostHeader: string): string | undefined {
  const value = hostHeader.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
  if (match === null) return undefined;
  const name = match[1]!;
  return name.endsWith(".") && !name.startsWith("[") ? name.slice(0, -1) : name;
}

function bracketIpv6(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Whether a request's `Host` header names this API (DNS rebinding defence): a page on `evil.example`
 * whose DNS answer is switched to 127.0.0.1 reaches a loopback-bound API with the browser's blessing,
 * but its requests still carry `Host: evil.example`. Accepted: the loopback names, the bind host and
 * `allowedHosts`, compared without port, case or trailing dot. A missing or malformed header is refused.
 */
export function isAllowedHostHeader(
  hostHeader: string | undefined,
  bindHost: string,
  allowedHosts: readonly string[] = [],
): boolean {
  if (hostHeader === undefined) return false;
  const name = hostNameOf(hostHeader);
  if (name === undefined) return false;
  const accepted = [...API_LOOPBACK_HOSTS, bindHost, ...allowedHosts].map((h) => bracketIpv6(h.toLowerCase()));
  return accepted.includes(name);
}

/** How long `close()` lets requests in flight finish before cutting their connections. */
export const API_CLOSE_GRACE_MS = 2_000;

function matchRoute(routes: ApiRoute[], method: string, path: string) {
  const parts = path.split("/").filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.pattern.split("/").filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (pattern.every((p, i) => (p.startsWith(":") ? ((params[p.slice(1)] = decodePathSegment(parts[i]!)), true) : p === parts[i]))) {
      return { route, params };
    }
  }
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > API_MAX_BODY_BYTES) throw new ApiBadRequestError(`request body over ${API_MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new ApiBadRequestError("request body is not JSON", { cause: err });
  }
}


function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json") {
  const text = contentType === "application/json" ? toJson(body) : String(body);
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(text);
}

export async function startApiServer(init: ApiServerInit): Promise<ApiServer> {
  const routes = init.routes ?? [];
  const log = init.logger.child({ module: "api" });
  const allowedHosts = init.allowedHosts ?? [];
  const server: Server = createServer(async (req, res) => {
    if (!isAllowedHostHeader(req.headers.host, init.host, allowedHosts)) {
      // 421 Misdirected Request: this server is not the one the name points at (RFC 9110 §15.5.20).
      return send(res, 421, {
        error: "API_HOST_NOT_ALLOWED",
        message: `Host header ${JSON.stringify(req.headers.host ?? null)} is not an allowed name for this node's API (config api.allowedHosts)`,
      });
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (req.method === "GET" && url.pathname === "/healthz") {
        const results = await Promise.all(
          (init.checks ?? []).map(async (c) => {
            try {
              return { name: c.name, ...(await c.check()) };
            } catch (err) {
              return { name: c.name, ok: false, detail: (err as Error).message };
            }
          }),
        );
        const ok = results.every((r) => r.ok);
        return send(res, ok ? 200 : 503, { status: ok ? "ok" : "degraded", checks: results });
      }
      if (req.method === "GET" && url.pathname === "/metrics") {
        return send(res, 200, await init.registry.metrics(), init.registry.contentType);
      }
      const match = matchRoute(routes, req.method ?? "GET", url.pathname);
      if (!match && !NOT_A_PAGE.test(url.pathname) && (await init.fallback?.(req, res, url.pathname))) return;
      if (!match && GATEWAY_PATH.test(url.pathname)) {
        throw new ApiNotFoundError(`no route ${req.method} ${url.pathname}: this is the node's control API; call services through its gateway port (default ${DEFAULT_GATEWAY_PORT})`);
      }
      if (!match) throw new ApiNotFoundError(`no route ${req.method} ${url.pathname}`);
      const body = req.method === "POST" ? await readJson(req) : undefined;
      const result = await match.route.handler({ method: req.method!, path: url.pathname, params: match.params, query: url.searchParams, body });
      return send(res, 200, result);
    } catch (err) {
      if (err instanceof DsmpError) {
        return send(res, STATUS_BY_CODE[err.code] ?? 422, { error: err.code, message: err.shortMessage, details: err.details });
      }
      log.error({ err, path: url.pathname }, "api handler failed");
      return send(res, 500, { error: "INTERNAL", message: "internal error (see the node's log)" });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(init.port, init.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), API_CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
