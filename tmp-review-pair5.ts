import { streamPair } from "@libp2p/utils";
const N = Number(process.argv[2] ?? 4000);
const mode = process.argv[3] ?? "close";
globalThis.gc!(); const h0 = process.memoryUsage().heapUsed;
let ws: WeakRef<object>[] = [];
for (let i = 0; i < N; i++) {
  const [a, b] = await streamPair({ protocol: "/x" });
  if (mode === "close") {
    const closed = Promise.all([new Promise((r) => a.addEventListener("close", r)), new Promise((r) => b.addEventListener("close", r))]);
    b.addEventListener("remoteCloseWrite", () => void b.close());
    await a.close();
    await closed;
  } else if (mode === "abort") {
    const closed = new Promise((r) => b.addEventListener("close", r));
    a.abort(new Error("x"));
    await closed;
  } else if (mode === "none") {}
  if (i < 50) ws.push(new WeakRef(a));
}
await new Promise((r) => setTimeout(r, 500));
globalThis.gc!(); await new Promise((r) => setTimeout(r, 100)); globalThis.gc!();
console.log(mode, N, "retained KB/pair", ((process.memoryUsage().heapUsed - h0) / N / 1024).toFixed(1), "weakrefs alive", ws.filter((w) => w.deref() !== undefined).length);
