import { streamPair } from "@libp2p/utils";
const N = Number(process.argv[2] ?? 32768);
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const [a, b] = await streamPair({ protocol: "/x" });
  b.addEventListener("remoteCloseWrite", () => void b.close());
  await a.close();
  if (i % 8000 === 0) { globalThis.gc?.(); console.log(i, "heapUsed MB", (process.memoryUsage().heapUsed / 1e6).toFixed(1), a.status, b.status); }
}
console.log("made", N, "pairs in", (performance.now() - t0).toFixed(0), "ms");
try { await streamPair({ protocol: "/x" }); console.log("next ok"); } catch (e) { console.log("next pair fails:", (e as Error).message); }
