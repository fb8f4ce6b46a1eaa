import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { localProviderDialer } from "./worker/src/mesh/local-provider-dialer.ts";
const self = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
const d = localProviderDialer({} as any, self, { handleSession: (s) => s.abort(new Error("stopping")) });
for (let i = 0; i < 3; i++) {
  try { const s = await d.dialProtocol(self, "/dsmp/mesh/1.0.0", { signal: AbortSignal.timeout(5000) }); console.log(i, "ok", s.status); }
  catch (e) { console.log(i, (e as Error).stack); }
}
