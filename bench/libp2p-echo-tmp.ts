// temporary: CPU per paced message round trip over one yamux stream (libp2p only)
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { multiaddr } from "@multiformats/multiaddr";
import { withCoalescedWrites, withLazyWindowUpdates } from "../worker/src/p2p/connection-batching.ts";
import { noiseCrypto } from "../worker/src/p2p/noise-crypto.ts";
const tuned = process.argv.includes("--tuned");
const make = () => createLibp2p({ addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] }, transports: [tcp()],
  connectionEncrypters: [tuned ? withCoalescedWrites(noise({ crypto: noiseCrypto })) : noise()], streamMuxers: [tuned ? withLazyWindowUpdates(yamux()) : yamux()] });
if (process.argv[2] === "server") {
  const node = await make();
  await node.handle("/echo", (stream) => { stream.addEventListener("message", (e) => { stream.send(e.data); }); });
  process.on("SIGINT", () => process.exit(0)); process.on("message", (m: string) => { const u = process.cpuUsage(); process.send!(u.user + u.system); });
  process.send!(node.getMultiaddrs()[0]!.toString());
} else {
  const child = fork(fileURLToPath(import.meta.url), ["server", ...(tuned ? ["--tuned"] : [])], { execArgv: [...process.execArgv, ...(process.env.PROF ? ["--cpu-prof", "--cpu-prof-dir=" + process.env.PROF] : [])] });
  const addr = await new Promise<string>((r) => child.once("message", (m) => r(m as string)));
  const node = await make();
  const stream = await node.dialProtocol(multiaddr(addr), "/echo");
  const msg = new Uint8Array(1300);
  const one = () => new Promise<void>((resolve) => { let got = 0; const on = (e: any) => { got += e.data.byteLength; if (got >= msg.byteLength) { stream.removeEventListener("message", on); resolve(); } }; stream.addEventListener("message", on); stream.send(msg); });
  const serverCpu = () => new Promise<number>((r) => { child.once("message", (m) => r(m as number)); child.send("cpu"); });
  for (let i = 0; i < 500; i++) await one();
  const n = 3000; const s0 = await serverCpu(); const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { await one(); await new Promise((r) => setTimeout(r, 1)); }
  const c = process.cpuUsage(c0); const s1 = await serverCpu();
  console.log(tuned ? "tuned  " : "untuned", "client", ((c.user + c.system) / n).toFixed(0), "µs/msg  server", ((s1 - s0) / n).toFixed(0), "µs/msg");
  child.disconnect(); child.kill("SIGINT"); await new Promise((r) => setTimeout(r, 1500)); process.exit(0);
}
