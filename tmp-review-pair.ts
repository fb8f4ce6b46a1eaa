import { streamPair } from "@libp2p/utils";
for (let i = 0; i < 5; i++) {
  try { const [a, b] = await streamPair({ protocol: "/x" }); console.log(i, "ok", a.protocol, b.protocol, a.id, b.id); }
  catch (e) { console.log(i, (e as Error).stack); }
}
