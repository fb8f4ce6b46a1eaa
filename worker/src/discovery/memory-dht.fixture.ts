/**
 * Test fixture: an in-memory stand-in for kad-dht, shared by several fake nodes, implementing the part of
 * the `KadDHT` interface discovery uses and emitting the same event shapes. Unlike kad-dht it validates
 * nothing, so tests can plant expired, forged or foreign records and see the resolver refuse them.
 * Not imported by production code.
 */
import type { PeerId } from "@libp2p/interface";
import { EventTypes, MessageType, type KadDHT, type QueryEvent } from "@libp2p/kad-dht";
import type { CID } from "multiformats/cid";
import { testIdentity } from "./discovery-network.fixture.ts";

export type DiscoveryDht = Pick<KadDHT, "provide" | "put" | "cancelReprovide" | "findProviders" | "get">;

type MessageName = "PUT_VALUE" | "GET_VALUE" | "ADD_PROVIDER" | "GET_PROVIDERS";

const PATH = { index: 0, queued: 0, running: 0, total: 1 };
const keyText = (key: Uint8Array) => new TextDecoder().decode(key);

export class MemoryDht {
  /** Provider entries by CID; like Kademlia, nothing ever removes one. */
  readonly providers = new Map<string, PeerId[]>();
  /** Values by record key, as several DHT peers might hold several versions. */
  readonly values = new Map<string, Uint8Array[]>();
  readonly calls = { provide: 0, put: 0, cancelReprovide: 0, findProviders: 0, get: 0 };
  /** Operations in call order, e.g. `put /dsmp/…`, `provide bafk…`. */
  readonly log: string[] = [];
  /** The remote peer every answer comes from, reached through {@link relay} (2 hops). */
  readonly server = testIdentity("memory-dht server").peerId;
  readonly relay = testIdentity("memory-dht relay").peerId;
  /** While set, `findProviders` and `put` wait for it (hold a lookup or a round in flight). */
  gate: Promise<void> | undefined;
  /** Record keys whose `get` answers nothing until aborted (holders unreachable). */
  readonly unreachableKeys = new Set<string>();
  /** When set, `put` throws it. */
  putError: Error | undefined;
  /**
   * Like a real query whose other paths are still converging: `findProviders` reports one provider per
   * event and `get` one holder per answer, and neither ends until aborted (counted in {@link abortedQueries}).
   */
  holdQueriesOpen = false;
  abortedQueries = 0;

  /** Add a value under `key` next to the ones held already (an old or foreign version on another peer). */
  plant(key: Uint8Array, value: Uint8Array): void {
    this.values.set(keyText(key), [...(this.values.get(keyText(key)) ?? []), value]);
  }

  /** Announce `peer` as a provider of `cid` without any record. */
  plantProvider(cid: CID, peer: PeerId): void {
    const list = this.providers.get(cid.toString()) ?? [];
    this.providers.set(cid.toString(), [...list, peer]);
  }

  /** The DHT as the node `self` sees it. */
  nodeView(self: PeerId): DiscoveryDht {
    const dht = this;
    return {
      async *provide(cid, options = {}) {
        dht.calls.provide++;
        dht.log.push(`provide ${cid}`);
        options.signal?.throwIfAborted();
        if (!(dht.providers.get(cid.toString()) ?? []).some((p) => p.equals(self))) dht.plantProvider(cid, self);
        yield dht.response(dht.server, "ADD_PROVIDER", []);
      },
      async *put(key, value, options = {}) {
        dht.calls.put++;
        dht.log.push(`put ${keyText(key)}`);
        await dht.wait(options.signal);
        if (dht.putError !== undefined) throw dht.putError;
        dht.values.set(keyText(key), [value]);
        yield { to: dht.server, type: EventTypes.SEND_QUERY, name: "SEND_QUERY", messageName: "PUT_VALUE", messageType: MessageType.PUT_VALUE, path: PATH };
        yield { ...dht.response(dht.server, "PUT_VALUE", []), record: { key, value } };
      },
      async cancelReprovide(cid) {
        dht.calls.cancelReprovide++;
        dht.log.push(`cancelReprovide ${cid}`);
      },
      async *findProviders(cid, options = {}) {
        dht.calls.findProviders++;
        await dht.wait(options.signal);
        const providers = (dht.providers.get(cid.toString()) ?? []).map((id) => ({ id, multiaddrs: [] }));
        yield* dht.twoHops("GET_PROVIDERS");
        if (dht.holdQueriesOpen) {
          for (const provider of providers) {
            yield { ...dht.response(dht.server, "GET_PROVIDERS", []), providers: [provider] };
            yield { from: dht.server, type: EventTypes.PROVIDER, name: "PROVIDER", providers: [provider], path: PATH };
          }
          return yield* dht.untilAborted(options.signal);
        }
        yield { ...dht.response(dht.server, "GET_PROVIDERS", []), providers };
        // kad-dht reports a provider once per peer that knows it: every one twice here
        yield { from: dht.server, type: EventTypes.PROVIDER, name: "PROVIDER", providers: [...providers, ...providers], path: PATH };
      },
      async *get(key, options = {}) {
        dht.calls.get++;
        options.signal?.throwIfAborted();
        yield* dht.twoHops("GET_VALUE");
        if (dht.unreachableKeys.has(keyText(key))) {
          await new Promise((_, reject) => options.signal?.addEventListener("abort", () => reject(options.signal?.reason), { once: true }));
        }
        for (const value of dht.values.get(keyText(key)) ?? []) {
          yield { ...dht.response(dht.server, "GET_VALUE", []), record: { key, value } };
        }
        if (dht.holdQueriesOpen) yield* dht.untilAborted(options.signal);
      },
    };
  }

  /** Yields nothing and throws the abort reason once `signal` aborts. */
  private async *untilAborted(signal: AbortSignal | undefined): AsyncGenerator<QueryEvent> {
    await new Promise((_, reject) => {
      signal?.addEventListener("abort", () => {
        this.abortedQueries++;
        reject(signal.reason);
      }, { once: true });
    });
  }

  private async wait(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.gate === undefined) return;
    await new Promise<void>((resolve, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      this.gate!.then(resolve, reject);
    });
  }

  /** The relay is asked first and names the server: the server is 2 hops away. */
  private *twoHops(messageName: Extract<MessageName, `GET_${string}`>): Generator<QueryEvent> {
    const messageType = MessageType[messageName];
    yield { to: this.relay, type: EventTypes.SEND_QUERY, name: "SEND_QUERY", messageName, messageType, path: PATH };
    yield this.response(this.relay, messageName, [this.server]);
    yield { to: this.server, type: EventTypes.SEND_QUERY, name: "SEND_QUERY", messageName, messageType, path: PATH };
  }

  private response(from: PeerId, messageName: MessageName, closer: PeerId[]): QueryEvent & { name: "PEER_RESPONSE" } {
    return {
      from,
      type: EventTypes.PEER_RESPONSE,
      name: "PEER_RESPONSE",
      messageName,
      messageType: MessageType[messageName],
      closer: closer.map((id) => ({ id, multiaddrs: [] })),
      providers: [],
      path: PATH,
    };
  }
}
