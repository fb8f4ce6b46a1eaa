/**
 * Put and get DHT records with the guarantees kad-dht leaves to its caller.
 *
 * `KadDHT.put` stores the value locally *without* validating it and reports remote refusals only
 * as query-error events, so a bad value "succeeds" silently. This store validates locally with the
 * same validators the DHT enforces (a bad value throws the validator's own error before anything
 * leaves the node) and counts which peers stored the value and which refused it.
 * `get` returns the best valid record (kad-dht validates every remote record and applies the
 * namespace's selector) or `undefined`.
 */
import { InvalidParametersError, type AbortOptions } from "@libp2p/interface";
import type { KadDHT, Validators } from "@libp2p/kad-dht";
import { equals as bytesEqual } from "uint8arrays/equals";
import { toString as bytesToString } from "uint8arrays/to-string";

/** Where a put landed. */
export interface DhtPutResult {
  /** Peers that answered the PUT_VALUE with the value we sent (stored it). */
  storedOn: number;
  /** Peers that refused it or failed to answer (a validator there rejected it, a timeout, a reset). */
  refusedBy: number;
}

/** Puts and gets validated records. */
export interface DhtRecordStore {
  /**
   * Validates `value` under `key` locally, then stores it on the closest peers.
   *
   * @throws whatever the namespace's validator throws for an invalid value;
   *   `InvalidParametersError` when the key has no namespace or no validator is registered for it.
   */
  put(key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<DhtPutResult>;
  /** The best valid value for `key` in the DHT (this node included), or `undefined` when none was found. */
  get(key: Uint8Array, options?: AbortOptions): Promise<Uint8Array | undefined>;
}

/** What {@link createDhtRecordStore} needs. */
export interface DhtRecordStoreInit {
  dht: KadDHT;
  /** The validators the DHT was built with (same object, so local and remote checks agree). */
  validators: Validators;
}

/**
 * @example
 * const records = createDhtRecordStore({ dht: libp2p.services.dht, validators })
 * const { storedOn } = await records.put(key, value, { signal: AbortSignal.timeout(30_000) })
 * const latest = await records.get(key)
 */
export function createDhtRecordStore(init: DhtRecordStoreInit): DhtRecordStore {
  return {
    async put(key, value, options = {}) {
      await validatorFor(init.validators, key)(key, value, options);
      const sentTo = new Set<string>();
      const stored = new Set<string>();
      for await (const event of init.dht.put(key, value, options)) {
        if (event.name === "SEND_QUERY" && event.messageName === "PUT_VALUE") {
          sentTo.add(event.to.toString());
        } else if (event.name === "PEER_RESPONSE" && event.messageName === "PUT_VALUE") {
          if (event.record != null && bytesEqual(event.record.value, value)) stored.add(event.from.toString());
        }
      }
      return { storedOn: stored.size, refusedBy: sentTo.size - stored.size };
    },

    async get(key, options = {}) {
      let best: Uint8Array | undefined;
      try {
        for await (const event of init.dht.get(key, options)) {
          // kad-dht yields the selected best value last
          if (event.name === "VALUE") best = event.value;
        }
      } catch (err) {
        if ((err as Error).name === "NotFoundError") return undefined;
        throw err;
      }
      return best;
    },
  };
}

/** The validator for a key `/<namespace>/<rest>`, as kad-dht chooses it. */
function validatorFor(validators: Validators, key: Uint8Array): NonNullable<Validators[string]> {
  const parts = bytesToString(key).split("/");
  const namespace = parts[1];
  if (parts.length < 3 || namespace === undefined || namespace === "") {
    throw new InvalidParametersError("DHT record key is missing a namespace (expected /<namespace>/<rest>)");
  }
  const validator = validators[namespace];
  if (validator === undefined) {
    throw new InvalidParametersError(`no DHT validator registered for namespace "${namespace}"`);
  }
  return validator;
}
