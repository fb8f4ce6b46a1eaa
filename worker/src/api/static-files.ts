/**
 * Serves a directory of static files (the built web UI, `web/dist`) from the control API server: GET/HEAD only,
 * paths resolved inside the root (no traversal, no dotfiles, no symlinks out), content types by extension,
 * `immutable` caching for Vite's hashed `assets/*`, `no-cache` for the rest, and an SPA fallback to
 * `index.html` for paths that look like pages (no extension) so client-side routes survive a reload.
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

/** Content types of what Vite emits. Unknown extensions are served as bytes. */
export const STATIC_CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Vite puts content-hashed files under `assets/`: their name changes with their bytes, so cache them a year. */
const HASHED_ASSET = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export interface StaticFileHandlerInit {
  /** Directory to serve (e.g. `web/dist`). */
  root: string;
  /** File answered for unknown extension-less paths. @default "index.html" */
  spaFallback?: string;
}

/** Returns true when it answered the request, false when the request is not for a static file. */
export type StaticFileHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;

/**
 * `pathname` (already URL-decoded or not: it is decoded here) → an absolute path inside `root`, or undefined
 * when it would leave the root, names a dotfile, or is malformed. Pure; exported for tests.
 */
export function resolveStaticPath(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/").filter(Boolean);
  if (segments.some((s) => s === ".." || s.startsWith("."))) return undefined;
  const base = resolve(root);
  const full = resolve(base, ...segments);
  if (full !== base && !full.startsWith(base + sep)) return undefined;
  return full;
}

/** A handler serving `init.root`; mount it as the API server's fallback. */
export function createStaticFileHandler(init: StaticFileHandlerInit): StaticFileHandler {
  const fallbackName = init.spaFallback ?? "index.html";
  let realRoot: Promise<string> | undefined;
  const rootReal = () => (realRoot ??= realpath(resolve(init.root)));

  const fileAt = async (path: string): Promise<{ path: string; size: number; mtime: Date } | undefined> => {
    try {
      const root = await rootReal();
      let real = await realpath(path);
      let st = await stat(real);
      if (st.isDirectory()) {
        real = await realpath(join(real, "index.html"));
        st = await stat(real);
      }
      if (!st.isFile() || (real !== root && !real.startsWith(root + sep))) return undefined;
      return { path: real, size: st.size, mtime: st.mtime };
    } catch {
      return undefined;
    }
  };

  return async (req, res, pathname) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const wanted = resolveStaticPath(init.root, pathname);
    let file = wanted === undefined ? undefined : await fileAt(wanted);
    let cacheable = file !== undefined && HASHED_ASSET.test(pathname);
    if (file === undefined) {
      // Client-side routes (`/services/3`) get the app; a missing `/x.js` is a real 404.
      if (wanted === undefined || extname(pathname) !== "") return false;
      file = await fileAt(resolve(init.root, fallbackName));
      cacheable = false;
      if (file === undefined) return false;
    }
    res.writeHead(200, {
      "content-type": STATIC_CONTENT_TYPES[extname(file.path).toLowerCase()] ?? "application/octet-stream",
      "content-length": String(file.size),
      "cache-control": cacheable ? "public, max-age=31536000, immutable" : "no-cache",
      "last-modified": file.mtime.toUTCString(),
      "x-content-type-options": "nosniff",
    });
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(file.path);
      stream.on("error", () => {
        res.destroy();
        done();
      });
      stream.on("end", done);
      stream.pipe(res);
    });
    return true;
  };
}
