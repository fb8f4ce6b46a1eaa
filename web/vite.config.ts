/**
 * Builds the web UI to static files in web/dist (served by `dsmp node start --web` and the devnet's node 0).
 * No build-time chain config: the page asks its node for `/v1/web-config`. `npx vite web` during development
 * proxies `/v1` to a running node (DSMP_API_URL, default the devnet's node 0).
 */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1500 },
  server: { proxy: Object.fromEntries(["/v1", "/healthz", "/metrics"].map((path) => [path, process.env.DSMP_API_URL ?? "http://127.0.0.1:4662"])) },
});
