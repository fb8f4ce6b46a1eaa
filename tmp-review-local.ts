let nd = 0; const wrapD = (d: any) => ({ dialProtocol: async (...a: any[]) => { nd++; if (nd % 5000 === 0) console.log("dials so far", nd, new Error().stack?.split("\n").slice(2,9).join("\n")); try { return await d.dialProtocol(...a); } catch (e) { console.log("DIAL ERR after", nd, (e as Error).message); throw e; } } });
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { createHttpProvider } from "./worker/src/mesh/provider-handler.ts";
import { createGateway } from "./worker/src/mesh/gateway.ts";
import { localProviderDialer } from "./worker/src/mesh/local-provider-dialer.ts";

const self = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
const backend = createServer((req, res) => {
  if (req.url?.startsWith("/big")) {
    const n = Number(req.url.split("/")[2]);
    res.writeHead(200, { "content-length": String(n) });
    const buf = Buffer.alloc(n, 0x62);
    res.end(buf);
    return;
  }
  if (req.url?.startsWith("/hang")) { return; }
  res.writeHead(200);
  req.pipe(res);
});
await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
const bport = (backend.address() as AddressInfo).port;
const provider = createHttpProvider({ backends: new Map([[1n, new URL(`http://127.0.0.1:${bport}`)]]) })({
  libp2p: { peerId: self, handle: async () => {}, unhandle: async () => {} } as any,
});
await provider.start();
let dials = 0;
const gw = createGateway({ host: "127.0.0.1", port: 0 })({
  libp2p: wrapD(localProviderDialer({ dialProtocol: async () => { dials++; throw new Error("no remote"); } } as any, self, provider)),
  resolveProviders: async () => [self],
});
await gw.start();
const { port } = gw.address();
const url = `http://127.0.0.1:${port}/svc/1`;
const mode = process.argv[2];
const t0 = performance.now();
if (mode === "small") {
  const r = await fetch(`${url}/x`, { method: "POST", body: "hi" });
  console.log(r.status, await r.text(), [...r.headers]);
}
if (mode === "bigup") {
  const body = Buffer.alloc(10 * 1024 * 1024, 0x61);
  const r = await fetch(`${url}/x`, { method: "POST", body });
  const b = Buffer.from(await r.arrayBuffer());
  console.log(r.status, b.length, b.equals(body), (performance.now() - t0).toFixed(0), "ms");
}
if (mode === "bigdown") {
  const r = await fetch(`${url}/big/${50 * 1024 * 1024}`);
  const b = Buffer.from(await r.arrayBuffer());
  console.log(r.status, b.length, (performance.now() - t0).toFixed(0), "ms");
}
if (mode === "par") {
  const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
  const rs = await Promise.all(Array.from({ length: 32 }, async () => { const r = await fetch(`${url}/x`, { method: "POST", body }); return [r.status, (await r.arrayBuffer()).byteLength]; }));
  console.log(JSON.stringify(rs), (performance.now() - t0).toFixed(0), "ms");
}
if (mode === "slowreader") {
  // read response slowly; 20 MiB response
  const http = await import("node:http");
  await new Promise<void>((resolve) => {
    http.get(`${url}/big/${20 * 1024 * 1024}`, (res) => {
      res.pause();
      setTimeout(() => { console.log("rss MB after 3s paused", (process.memoryUsage().rss / 1e6).toFixed(0)); res.resume(); let n = 0; res.on("data", (c) => n += c.length); res.on("end", () => { console.log("got", n); resolve(); }); }, 3000);
    });
  });
}
if (mode === "abort") {
  const ac = new AbortController();
  const p = fetch(`${url}/hang`, { signal: ac.signal }).catch((e) => e.name);
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  console.log(await p, "provider inFlight", provider.inFlight);
  await new Promise((r) => setTimeout(r, 300));
  console.log("after 300ms provider inFlight", provider.inFlight);
}
if (mode === "stop") {
  const p = fetch(`${url}/hang`).then((r) => r.status, (e) => e.message);
  await new Promise((r) => setTimeout(r, 300));
  const s = performance.now();
  await gw.stop();
  console.log("gw stopped in", (performance.now() - s).toFixed(0), await p, "provider inFlight", provider.inFlight);
  const s2 = performance.now();
  await provider.stop();
  console.log("provider stopped in", (performance.now() - s2).toFixed(0));
}
if (mode === "stopprov") {
  // provider stop first with an idle session in the pool; then a request
  await (await fetch(`${url}/x`, { method: "POST", body: "a" })).text();
  const s = performance.now();
  await provider.stop();
  console.log("provider stopped in", (performance.now() - s).toFixed(0));
  const r = await fetch(`${url}/x`, { method: "POST", body: "b" });
  console.log("after provider stop", r.status, await r.text());
}
console.log("dials", dials);
await gw.stop(); await provider.stop(); backend.close();
