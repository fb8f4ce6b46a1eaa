/**
 * Adapters that plug service records into @libp2p/kad-dht v16: a validator (run on every record a DHT
 * server stores and every record a query returns) and a selector (which of several values for one key
 * is current). Register both under {@link DSMP_DHT_NAMESPACE}:
 *
 * @example
 * kadDHT({
 *   protocol: "/dsmp/kad/1.0.0",
 *   validators: dsmpDhtValidators({ clock: unixSecondsNow, chainId, registry }),
 *   selectors: dsmpDhtSelectors(),
 * })
 */
import type { SelectFn, Selectors, ValidateFn, Validators } from "@libp2p/kad-dht";
import type { Address } from "viem";
import { DSMP_DHT_NAMESPACE } from "./dht-keys.ts";
import {
  decodeServiceRecord,
  selectServiceRecord,
  validateServiceRecord,
  type ServiceRecordCandidate,
} from "./service-record.ts";

export interface ServiceRecordValidatorInit {
  /** Current time in unix seconds (inject a fake in tests). */
  clock: () => number;
  /** Refuse records of other chains (a node only stores records of its own deployment). */
  chainId?: number | undefined;
  /** Refuse records of other ServiceRegistry deployments. */
  registry?: Address | undefined;
}

/** The system clock in unix seconds, for the I/O layer. */
export function unixSecondsNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** kad-dht validator: throws a `RecordInvalidError` unless `value` is a valid record stored under its own key. */
export function createServiceRecordValidator(init: ServiceRecordValidatorInit): ValidateFn {
  return async (key, value) => {
    await validateServiceRecord(value, {
      now: init.clock(),
      expectedKey: key,
      chainId: init.chainId,
      registry: init.registry,
    });
  };
}

/**
 * kad-dht selector: index of the newest record (highest seq, then latest expiry, then greatest bytes).
 * Values that do not decode rank below every value that does; with none decodable it returns 0.
 */
export const selectServiceRecordValue: SelectFn = (_key, values) => {
  const candidates: ServiceRecordCandidate[] = [];
  const indices: number[] = [];
  values.forEach((bytes, index) => {
    try {
      candidates.push({ record: decodeServiceRecord(bytes), bytes });
      indices.push(index);
    } catch {
      // not a record: never selected over one that is
    }
  });
  return candidates.length === 0 ? 0 : indices[selectServiceRecord(candidates)]!;
};

/** The `validators` entry for kad-dht's init. */
export function dsmpDhtValidators(init: ServiceRecordValidatorInit): Validators {
  return { [DSMP_DHT_NAMESPACE]: createServiceRecordValidator(init) };
}

/** The `selectors` entry for kad-dht's init. */
export function dsmpDhtSelectors(): Selectors {
  return { [DSMP_DHT_NAMESPACE]: selectServiceRecordValue };
}
