/**
 * Connects a task committee member to the other members (DESIGN §4.5). The round's messages travel on a
 * gossipsub topic, and gossipsub forwards a topic only through peers subscribed to it: two members joined only
 * through a node outside the committee would never hear each other. Each member therefore dials the others it is
 * not connected to, by the PeerId the registry holds for them; libp2p's dial takes their addresses from the peer
 * store, or looks them up in the DHT. Best effort: a member that cannot be reached is logged, and the round
 * still relays through whichever members are connected.
 */
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromMultihash } from "@libp2p/peer-id";
import * as Digest from "multiformats/hashes/digest";
import { hexToBytes, type Address, type Hex } from "viem";
import type { Logger } from "../log.ts";

/** Bound on one dial to a committee member (ms). */
export const COMMITTEE_DIAL_TIMEOUT_MS = 10_000;

/** The registry's PeerId bytes (39-byte identity multihash, hex) as a PeerId. */
export function peerIdFromRegistry(peerId: Hex): PeerId {
  return peerIdFromMultihash(Digest.decode(hexToBytes(peerId)));
}

/**
 * Dials, in the background, each member in `members` that `peerIdOf` knows and this node is not connected to.
 * @returns the dials started (settled promises: failures are logged, never thrown).
 */
export function dialCommittee(
  libp2p: Pick<Libp2p, "dial" | "getConnections">,
  members: readonly Address[],
  peerIdOf: (member: Address) => Hex | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<void>[] {
  const dials: Promise<void>[] = [];
  for (const member of members) {
    const hex = peerIdOf(member);
    if (hex === undefined) continue;
    const peer = peerIdFromRegistry(hex);
    if (libp2p.getConnections(peer).length > 0) continue;
    dials.push(
      libp2p
        .dial(peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(COMMITTEE_DIAL_TIMEOUT_MS)]) })
        .then(() => undefined)
        .catch((err: unknown) => log.debug({ err, member }, "could not dial a committee member; the round relays through the others")),
    );
  }
  return dials;
}
