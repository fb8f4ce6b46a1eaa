import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KeystoreCorruptError,
  KeystoreExistsError,
  KeystoreNotFoundError,
  KeystorePassphraseRequiredError,
  KeystorePermissionsError,
  KeystoreWrongPassphraseError,
} from "../errors.ts";
import {
  createKeystore,
  decodeKeystore,
  DEFAULT_SCRYPT_PARAMS,
  encodeKeystore,
  loadKeystore,
  loadOrCreateKeystore,
  type ScryptParams,
} from "./keystore.ts";

/** Cheap KDF for tests; the default (2^17) is exercised once below. */
const FAST: ScryptParams = { n: 2 ** 10, r: 8, p: 1 };
/** Hardhat account #1. */
const KEY = hexToBytes("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

let dir: string;
let counter = 0;
const fresh = () => join(dir, `k${counter++}`, "node-key.json");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dsmp-keystore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rewrite(path: string, edit: (file: Record<string, any>) => void): Promise<void> {
  const file = JSON.parse(await readFile(path, "utf8")) as Record<string, any>;
  edit(file);
  await writeFile(path, JSON.stringify(file));
}

describe("keystore: create and load", () => {
  it("round-trips a plain keystore, mode 0600 in a 0700 directory", async () => {
    const path = fresh();
    const created = await createKeystore(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, ".."))).mode & 0o777).toBe(0o700);
    const { identity, encrypted } = await loadKeystore(path);
    expect(encrypted).toBe(false);
    expect(identity.address).toBe(created.address);
    expect(identity.peerId.equals(created.peerId)).toBe(true);
    expect(identity.privateKey.raw).toEqual(created.privateKey.raw);
    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file).toMatchObject({ version: 1, keyType: "secp256k1", address: created.address, peerId: created.peerId.toString() });
  });

  it("round-trips an encrypted keystore without writing the key in the clear", async () => {
    const path = fresh();
    const created = await createKeystore(path, { passphrase: "correct horse", scrypt: FAST, privateKey: KEY });
    const text = await readFile(path, "utf8");
    expect(text).not.toContain("59c6995e998f97a5");
    expect(JSON.parse(text).privateKey).toBeUndefined();
    const { identity, encrypted } = await loadKeystore(path, { passphrase: "correct horse" });
    expect(encrypted).toBe(true);
    expect(identity.address).toBe(created.address);
    expect(identity.privateKey.raw).toEqual(KEY);
  });

  it("imports a given key", async () => {
    const path = fresh();
    const identity = await createKeystore(path, { privateKey: KEY });
    expect(identity.address).toBe("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  });

  it("unlocks with the default scrypt parameters", async () => {
    const path = fresh();
    await createKeystore(path, { passphrase: "p", privateKey: KEY });
    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file.crypto.kdfParams).toMatchObject({ n: DEFAULT_SCRYPT_PARAMS.n, r: 8, p: 1 });
    expect((await loadKeystore(path, { passphrase: "p" })).identity.privateKey.raw).toEqual(KEY);
  });

  it("never overwrites an existing keystore", async () => {
    const path = fresh();
    const first = await createKeystore(path);
    await expect(createKeystore(path)).rejects.toBeInstanceOf(KeystoreExistsError);
    expect((await loadKeystore(path)).identity.address).toBe(first.address);
  });

  it("loadOrCreate creates once, then loads the same identity", async () => {
    const path = fresh();
    const a = await loadOrCreateKeystore(path, { passphrase: "pw", scrypt: FAST });
    const b = await loadOrCreateKeystore(path, { passphrase: "pw", scrypt: FAST });
    expect([a.created, b.created]).toEqual([true, false]);
    expect([a.encrypted, b.encrypted]).toEqual([true, true]);
    expect(b.identity.address).toBe(a.identity.address);
  });

  it("concurrent first starts agree on one identity", async () => {
    const path = fresh();
    const results = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateKeystore(path)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.identity.address)).size).toBe(1);
  });
});

describe("keystore: refusals", () => {
  it("reports a missing file", async () => {
    await expect(loadKeystore(fresh())).rejects.toBeInstanceOf(KeystoreNotFoundError);
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o700])("refuses mode %o and says how to fix it", async (mode) => {
    const path = fresh();
    await createKeystore(path, { privateKey: KEY });
    await chmod(path, mode);
    const error = await loadKeystore(path).catch((e: unknown) => e);
    if (mode & 0o077) {
      expect(error).toBeInstanceOf(KeystorePermissionsError);
      expect((error as Error).message).toContain(`chmod 600 ${path}`);
    } else {
      expect(error).not.toBeInstanceOf(Error); // 0700: owner only, accepted
    }
  });

  it("tells a wrong passphrase apart from a missing one", async () => {
    const path = fresh();
    await createKeystore(path, { passphrase: "right", scrypt: FAST });
    await expect(loadKeystore(path, { passphrase: "wrong" })).rejects.toBeInstanceOf(KeystoreWrongPassphraseError);
    await expect(loadKeystore(path)).rejects.toBeInstanceOf(KeystorePassphraseRequiredError);
    await expect(loadKeystore(path, { passphrase: "" })).rejects.toBeInstanceOf(KeystorePassphraseRequiredError);
  });

  const corruptions: [string, (file: Record<string, any>) => void][] = [
    ["a flipped ciphertext byte", (f) => (f.crypto.ciphertext = flipLastHexDigit(f.crypto.ciphertext))],
    ["a flipped tag byte", (f) => (f.crypto.tag = flipLastHexDigit(f.crypto.tag))],
    ["a flipped IV byte", (f) => (f.crypto.iv = flipLastHexDigit(f.crypto.iv))],
    ["another address", (f) => (f.address = "0x0000000000000000000000000000000000000001")],
    ["another peer id", (f) => (f.peerId = "16Uiu2HAmAnotherPeer")],
    ["an unknown field", (f) => (f.extra = 1)],
    ["a missing field", (f) => delete f.keyType],
    ["another version", (f) => (f.version = 2)],
    ["an absurd scrypt cost", (f) => (f.crypto.kdfParams.n = 2 ** 30)],
    ["a non power of two cost", (f) => (f.crypto.kdfParams.n = 1000)],
    ["both key and crypto", (f) => (f.privateKey = `0x${"11".repeat(32)}`)],
  ];
  it.each(corruptions)("flags %s as corrupt", async (_name, edit) => {
    const path = fresh();
    await createKeystore(path, { passphrase: "pw", scrypt: FAST, privateKey: KEY });
    await rewrite(path, edit);
    await expect(loadKeystore(path, { passphrase: "pw" })).rejects.toBeInstanceOf(KeystoreCorruptError);
  });

  it.each([
    ["not JSON", "{ nope"],
    ["truncated", '{"version":1,"keyType":"secp25'],
    ["empty", ""],
    ["an array", "[]"],
  ])("flags a file that is %s", async (_name, text) => {
    const path = fresh();
    await createKeystore(path, { privateKey: KEY });
    await writeFile(path, text);
    await expect(loadKeystore(path)).rejects.toBeInstanceOf(KeystoreCorruptError);
  });

  it("flags a plain key that is not the stated identity, or not a key", async () => {
    const text = await encodeKeystore(KEY);
    const other = text.replace(/"privateKey": "0x[0-9a-f]+"/, `"privateKey": "0x${"22".repeat(32)}"`);
    await expect(decodeKeystore(other, "x")).rejects.toThrow(/not the identity the file states/);
    const zero = text.replace(/"privateKey": "0x[0-9a-f]+"/, `"privateKey": "0x${"00".repeat(32)}"`);
    await expect(decodeKeystore(zero, "x")).rejects.toBeInstanceOf(KeystoreCorruptError);
  });

  it("encodes deterministically given the randomness", async () => {
    const random = (length: number) => new Uint8Array(length).fill(7);
    const a = await encodeKeystore(KEY, { passphrase: "pw", scrypt: FAST, random });
    const b = await encodeKeystore(KEY, { passphrase: "pw", scrypt: FAST, random });
    expect(a).toBe(b);
    expect((await decodeKeystore(a, "x", "pw")).identity.privateKey.raw).toEqual(KEY);
  });
});

function flipLastHexDigit(hex: string): string {
  const last = hex.at(-1) === "0" ? "1" : "0";
  return hex.slice(0, -1) + last;
}
