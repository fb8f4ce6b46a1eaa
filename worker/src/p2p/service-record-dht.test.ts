import type { SelectFn, Selectors, ValidateFn, Validators } from "@libp2p/kad-dht";
import { describe, expect, it } from "vitest";
import { RecordInvalidError } from "../errors.ts";
import { DSMP_DHT_NAMESPACE, serviceRecordKey } from "./dht-keys.ts";
import { encodeServiceRecord } from "./service-record.ts";
import { createServiceRecordValidator, dsmpDhtSelectors, dsmpDhtValidators, selectServiceRecordValue } from "./service-record-dht.ts";
import { CHAIN_ID, NODE_A, NODE_B, NOW, REGISTRY, signedRecordOf } from "./service-record.fixture.ts";

describe("kad-dht validator", () => {
  const validators: Validators = dsmpDhtValidators({ clock: () => NOW, chainId: CHAIN_ID, registry: REGISTRY });
  const validate: ValidateFn = validators[DSMP_DHT_NAMESPACE]!;

  it("accepts a valid record under its own key", async () => {
    const record = await signedRecordOf(NODE_A);
    await expect(Promise.resolve(validate(serviceRecordKey(record), encodeServiceRecord(record)))).resolves.toBeUndefined();
  });

  it("rejects a valid record under another provider's key", async () => {
    const record = await signedRecordOf(NODE_A);
    const key = serviceRecordKey({ ...record, peerId: NODE_B.peerId.toString() });
    await expect(Promise.resolve(validate(key, encodeServiceRecord(record)))).rejects.toMatchObject({ reason: "wrong-key" });
  });

  it("reads the clock on every call", async () => {
    let now = NOW;
    const timed = createServiceRecordValidator({ clock: () => now });
    const record = await signedRecordOf(NODE_A, { expiresAt: NOW + 60 });
    const key = serviceRecordKey(record);
    await timed(key, encodeServiceRecord(record));
    now += 60;
    await expect(Promise.resolve(timed(key, encodeServiceRecord(record)))).rejects.toBeInstanceOf(RecordInvalidError);
  });

  it("rejects records of another deployment", async () => {
    const record = await signedRecordOf(NODE_A, { chainId: 1 });
    await expect(Promise.resolve(validate(serviceRecordKey(record), encodeServiceRecord(record)))).rejects.toMatchObject({ reason: "wrong-chain" });
  });
});

describe("kad-dht selector", () => {
  const selectors: Selectors = dsmpDhtSelectors();
  const select: SelectFn = selectors[DSMP_DHT_NAMESPACE]!;

  it("is the exported selector", () => {
    expect(select).toBe(selectServiceRecordValue);
  });

  it("picks the newest record and ranks undecodable values last", async () => {
    const [old, current] = await Promise.all([signedRecordOf(NODE_A, { seq: 1n }), signedRecordOf(NODE_A, { seq: 9n })]);
    const key = serviceRecordKey(current);
    const garbage = new TextEncoder().encode("{}");
    const values = [encodeServiceRecord(old), garbage, encodeServiceRecord(current), new Uint8Array(5000)];
    expect(await select(key, values)).toBe(2);
    expect(await select(key, [garbage, encodeServiceRecord(old)])).toBe(1);
    expect(await select(key, [garbage, garbage])).toBe(0);
  });
});
