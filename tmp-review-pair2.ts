import { streamPair } from "@libp2p/utils";
for (let i = 0; i < 4; i++) {
  try { const [a, b] = await streamPair({ protocol: "/x" }); 
    if (i === 0) { await a.send(new Uint8Array(3)); }
    b.abort(new Error("x"));
    console.log(i, "ok"); }
  catch (e) { console.log(i, (e as Error).stack); }
}
