/**
 * The static-file handler on a real API server: content types, hashed-asset caching, SPA fallback, 404s for
 * missing files, no path traversal (encoded or not), no dotfiles, no symlinks out of the root, /v1 untouched.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import { startApiServer, type ApiServer } from "./api-server.ts";
import { createStaticFileHandler, resolveStaticPath } from "./static-files.ts";

/** A raw GET (fetch would normalise `..` away before sending). */
function rawGet(base: string, path: string, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("static files", () => {
  const root = mkdtempSync(join(tmpdir(), "dsmp-static-"));
  const dist = join(root, "dist");
  let api: ApiServer;

  beforeAll(async () => {
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), "<!doctype html><div id=root></div>");
    writeFileSync(join(dist, "assets", "index-AbCdEf12.js"), "console.log(1)");
    writeFileSync(join(dist, "assets", "logo.svg"), "<svg/>");
    writeFileSync(join(dist, ".env"), "SECRET=1");
    writeFileSync(join(root, "secret.txt"), "outside");
    symlinkSync(join(root, "secret.txt"), join(dist, "link.txt"));
    api = await startApiServer({
      host: "127.0.0.1",
      port: 0,
      registry: new Registry(),
      logger: createSilentLogger(),
      routes: [{ method: "GET", pattern: "/v1/ping", handler: async () => ({ pong: true }) }],
      fallback: createStaticFileHandler({ root: dist }),
    });
  });

  afterAll(async () => {
    await api.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves files with their content type and caches only hashed assets for long", async () => {
    const index = await rawGet(api.url, "/");
    expect(index).toMatchObject({ status: 200, body: "<!doctype html><div id=root></div>" });
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    const js = await rawGet(api.url, "/assets/index-AbCdEf12.js");
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    const svg = await rawGet(api.url, "/assets/logo.svg");
    expect(svg.headers["content-type"]).toBe("image/svg+xml");
    expect(svg.headers["cache-control"]).toBe("no-cache");
    const head = await rawGet(api.url, "/assets/index-AbCdEf12.js", "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String("console.log(1)".length));
    expect(head.body).toBe("");
  });

  it("answers client-side routes with index.html, but a missing file with 404", async () => {
    expect(await rawGet(api.url, "/services/3")).toMatchObject({ status: 200, body: "<!doctype html><div id=root></div>" });
    expect((await rawGet(api.url, "/assets/missing-12345678.js")).status).toBe(404);
  });

  it.each(["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/.env", "/link.txt", "/%00", "/a%5c..%5csecret.txt"])("refuses %s", async (path) => {
    const res = await rawGet(api.url, path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain("outside");
    expect(res.body).not.toContain("SECRET");
  });

  it("leaves the API alone: /v1 routes answer, unknown /v1 paths stay JSON 404s, POST is not served", async () => {
    expect(JSON.parse((await rawGet(api.url, "/v1/ping")).body)).toEqual({ pong: true });
    const missing = await rawGet(api.url, "/v1/nope");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toBe("application/json");
    expect((await rawGet(api.url, "/", "POST")).status).toBe(404);
  });

  it("never answers gateway, health or metrics paths with the app: a client on the wrong port gets a JSON 404 that says so", async () => {
    const call = await rawGet(api.url, "/svc/1/hello");
    expect(call.status).toBe(404);
    expect(call.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(call.body).message).toMatch(/control API; call services through its gateway port/);
    for (const path of ["/providers/1", "/health", "/metrics/x", "/svc"]) {
      const res = await rawGet(api.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("<!doctype html>");
    }
  });

  it("resolves paths inside the root only", () => {
    expect(resolveStaticPath("/srv/web", "/a/b.js")).toBe("/srv/web/a/b.js");
    expect(resolveStaticPath("/srv/web", "/")).toBe("/srv/web");
    expect(resolveStaticPath("/srv/web", "/../x")).toBeUndefined();
    expect(resolveStaticPath("/srv/web", "/%E0%A4%A")).toBeUndefined();
    expect(resolveStaticPath("/srv/web", "/.git/config")).toBeUndefined();
  });
});
