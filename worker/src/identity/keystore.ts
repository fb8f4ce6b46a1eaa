/**
 * The node keystore: one secp256k1 key per Xnode in one JSON file, created on first start with mode 0600,
 * plain or encrypted with a passphrase (scrypt → AES-256-GCM). The format is in docs/protocol.md §1.3.
 *
 * Loading refuses a file that group or others can access, a file whose key is not the identity it states,
 * and tells a wrong passphrase apart from a damaged file.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { bytesToHex, hexToBytes, isAddressEqual, type Address } from "viem";
import { z } from "zod";
import {
  IdentityInvalidKeyError,
  KeystoreCorruptError,
  KeystoreExistsError,
  KeystoreNotFoundError,
  KeystorePassphraseRequiredError,
  KeystorePermissionsError,
  KeystoreWrongPassphraseError,
} from "../errors.ts";
import { identityFromPrivateKey, isValidPrivateKey, PRIVATE_KEY_LENGTH, type NodeIdentity } from "./node-identity.ts";

export const KEYSTORE_VERSION = 1;
/** Permission bits of a keystore file: owner read/write only. */
export const KEYSTORE_FILE_MODE = 0o600;
/** Permission bits of a data directory the keystore creates. */
export const KEYSTORE_DIR_MODE = 0o700;

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  n: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/**
 * N = 2^17, r = 8, p = 1: 128 MiB and roughly 0.3–0.5 s per unlock on a server core. A key is unlocked
 * once per start, so the delay is paid rarely while each passphrase guess costs an attacker as much.
 * geth's "standard" profile is N = 2^18 (1 s, 256 MiB); we halve it to fit small Xnodes.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { n: 2 ** 17, r: 8, p: 1 };
/** Bounds accepted when reading a file, so a tampered file cannot ask for gigabytes or hours. */
export const SCRYPT_LIMITS = { minLog2N: 10, maxLog2N: 20, maxR: 32, maxP: 16 } as const;
/** scrypt output: 32 bytes AES key || 32 bytes passphrase-check key. */
const DERIVED_KEY_LENGTH = 64;
const SALT_LENGTH = 32;
/** 96-bit nonce, the size GCM is specified for; random, and each file encrypts exactly once. */
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** Additional authenticated data: binds the ciphertext to this format. */
const KEYSTORE_AAD = new TextEncoder().encode("dsmp-node-key/1");

// ---------------------------------------------------------------------------------------------------------
// File format

const hexBytes = (length: number) =>
  z
    .string()
    .regex(new RegExp(`^0x[0-9a-f]{${length * 2}}$`), `expected ${length} bytes as lowercase 0x-hex`)
    .transform((value) => hexToBytes(value as `0x${string}`));

const KdfParamsSchema = z
  .object({
    n: z
      .number()
      .int()
      .refine((n) => Number.isInteger(Math.log2(n)) && Math.log2(n) >= SCRYPT_LIMITS.minLog2N && Math.log2(n) <= SCRYPT_LIMITS.maxLog2N, {
        message: `n must be a power of two in [2^${SCRYPT_LIMITS.minLog2N}, 2^${SCRYPT_LIMITS.maxLog2N}]`,
      }),
    r: z.number().int().min(1).max(SCRYPT_LIMITS.maxR),
    p: z.number().int().min(1).max(SCRYPT_LIMITS.maxP),
    salt: hexBytes(SALT_LENGTH),
  })
  .strict();

const CryptoSchema = z
  .object({
    kdf: z.literal("scrypt"),
    kdfParams: KdfParamsSchema,
    cipher: z.literal("aes-256-gcm"),
    iv: hexBytes(IV_LENGTH),
    ciphertext: hexBytes(PRIVATE_KEY_LENGTH),
    tag: hexBytes(TAG_LENGTH),
    check: hexBytes(32),
  })
  .strict();

const KeystoreFileSchema = z
  .object({
    version: z.literal(KEYSTORE_VERSION),
    keyType: z.literal("secp256k1"),
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    peerId: z.string().min(1),
    privateKey: hexBytes(PRIVATE_KEY_LENGTH).optional(),
    crypto: CryptoSchema.optional(),
  })
  .strict()
  .refine((file) => (file.privateKey === undefined) !== (file.crypto === undefined), {
    message: "exactly one of privateKey and crypto must be present",
  });

export interface EncodeKeystoreOptions {
  /** Encrypt with this passphrase; absent or empty writes the key in the clear (protected by file mode only). */
  passphrase?: string | undefined;
  /** @default {@link DEFAULT_SCRYPT_PARAMS} */
  scrypt?: ScryptParams | undefined;
  /** Source of salt and IV. @default node:crypto randomBytes */
  random?: ((length: number) => Uint8Array) | undefined;
}

/** The keystore file content (JSON text) for `secret`. */
export async function encodeKeystore(secret: Uint8Array, options: EncodeKeystoreOptions = {}): Promise<string> {
  const identity = identityFromPrivateKey(secret);
  const header = {
    version: KEYSTORE_VERSION,
    keyType: "secp256k1",
    address: identity.address,
    peerId: identity.peerId.toString(),
  };
  if (options.passphrase === undefined || options.passphrase === "") {
    return `${JSON.stringify({ ...header, privateKey: bytesToHex(secret) }, null, 2)}\n`;
  }
  const random = options.random ?? ((length: number) => new Uint8Array(randomBytes(length)));
  const params = options.scrypt ?? DEFAULT_SCRYPT_PARAMS;
  const salt = random(SALT_LENGTH);
  const iv = random(IV_LENGTH);
  const derived = await deriveKey(options.passphrase, salt, params);
  const cipher = createCipheriv("aes-256-gcm", derived.subarray(0, 32), iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(KEYSTORE_AAD);
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  const crypto = {
    kdf: "scrypt",
    kdfParams: { n: params.n, r: params.r, p: params.p, salt: bytesToHex(salt) },
    cipher: "aes-256-gcm",
    iv: bytesToHex(iv),
    ciphertext: bytesToHex(ciphertext),
    tag: bytesToHex(cipher.getAuthTag()),
    check: bytesToHex(passphraseCheck(derived)),
  };
  return `${JSON.stringify({ ...header, crypto }, null, 2)}\n`;
}

export interface DecodedKeystore {
  identity: NodeIdentity;
  encrypted: boolean;
}

/**
 * Read keystore file content. `path` only names the file in errors.
 * @throws {KeystoreCorruptError | KeystorePassphraseRequiredError | KeystoreWrongPassphraseError}
 */
export async function decodeKeystore(text: string, path: string, passphrase?: string): Promise<DecodedKeystore> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new KeystoreCorruptError(path, "not JSON", { cause });
  }
  const parsed = KeystoreFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
    throw new KeystoreCorruptError(path, `${where}${issue?.message ?? "unexpected content"}`, { cause: parsed.error });
  }
  const file = parsed.data;
  let secret: Uint8Array;
  if (file.privateKey !== undefined) {
    secret = file.privateKey;
  } else if (file.crypto !== undefined) {
    if (passphrase === undefined || passphrase === "") throw new KeystorePassphraseRequiredError(path);
    secret = await decrypt(file.crypto, passphrase, path);
  } else {
    throw new KeystoreCorruptError(path, "no key material");
  }
  if (!isValidPrivateKey(secret)) throw new KeystoreCorruptError(path, "the stored key is not a secp256k1 private key");
  let identity: NodeIdentity;
  try {
    identity = identityFromPrivateKey(secret);
  } catch (cause) {
    if (cause instanceof IdentityInvalidKeyError) throw new KeystoreCorruptError(path, cause.shortMessage, { cause });
    throw cause;
  }
  if (!isAddressEqual(identity.address, file.address as Address) || identity.peerId.toString() !== file.peerId) {
    throw new KeystoreCorruptError(path, `the key is ${identity.address} / ${identity.peerId.toString()}, not the identity the file states`);
  }
  return { identity, encrypted: file.crypto !== undefined };
}

async function decrypt(crypto: z.output<typeof CryptoSchema>, passphrase: string, path: string): Promise<Uint8Array> {
  const derived = await deriveKey(passphrase, crypto.kdfParams.salt, crypto.kdfParams);
  if (!timingSafeEqual(passphraseCheck(derived), crypto.check)) throw new KeystoreWrongPassphraseError(path);
  const decipher = createDecipheriv("aes-256-gcm", derived.subarray(0, 32), crypto.iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(KEYSTORE_AAD);
  decipher.setAuthTag(crypto.tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(crypto.ciphertext), decipher.final()]));
  } catch (cause) {
    // The passphrase checked out, so the ciphertext, IV or tag changed.
    throw new KeystoreCorruptError(path, "the encrypted key fails its integrity check", { cause });
  }
}

function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const options = { N: params.n, r: params.r, p: params.p, maxmem: 256 * params.n * params.r };
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize("NFKC"), salt, DERIVED_KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** sha256 of the second half of the scrypt output: tells a wrong passphrase from a damaged ciphertext. */
function passphraseCheck(derived: Uint8Array): Buffer {
  return createHash("sha256").update(derived.subarray(32, 64)).digest();
}

// ---------------------------------------------------------------------------------------------------------
// Files

export interface CreateKeystoreOptions extends Omit<EncodeKeystoreOptions, "random"> {
  /** Import this key instead of generating one (e.g. a funded devnet account). */
  privateKey?: Uint8Array | undefined;
}

/**
 * Write a new keystore at `path` (mode 0600; a missing directory is created with mode 0700). The file is
 * written beside the target, synced, then hard-linked into place, so `path` never holds a partial key and
 * an existing keystore is never replaced.
 * @throws {KeystoreExistsError} when `path` exists.
 */
export async function createKeystore(path: string, options: CreateKeystoreOptions = {}): Promise<NodeIdentity> {
  const secret = options.privateKey ?? generatePrivateKey();
  const text = await encodeKeystore(secret, { passphrase: options.passphrase, scrypt: options.scrypt });
  await mkdir(dirname(path), { recursive: true, mode: KEYSTORE_DIR_MODE });
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temporary, "wx", KEYSTORE_FILE_MODE);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") throw new KeystoreExistsError(path, { cause });
    throw cause;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
  return identityFromPrivateKey(secret);
}

export interface LoadKeystoreOptions {
  passphrase?: string | undefined;
}

/**
 * Load the keystore at `path`.
 * @throws {KeystoreNotFoundError | KeystorePermissionsError | KeystoreCorruptError |
 *   KeystorePassphraseRequiredError | KeystoreWrongPassphraseError}
 */
export async function loadKeystore(path: string, options: LoadKeystoreOptions = {}): Promise<DecodedKeystore> {
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new KeystoreCorruptError(path, "not a regular file");
    mode = info.mode;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw new KeystoreNotFoundError(path, { cause });
    throw cause;
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) throw new KeystorePermissionsError(path, mode);
  return decodeKeystore(await readFile(path, "utf8"), path, options.passphrase);
}

export interface LoadedKeystore extends DecodedKeystore {
  /** `true` when this call created the keystore (first start). */
  created: boolean;
}

/** Load the keystore at `path`, creating it on first start. */
export async function loadOrCreateKeystore(path: string, options: CreateKeystoreOptions = {}): Promise<LoadedKeystore> {
  try {
    return { ...(await loadKeystore(path, options)), created: false };
  } catch (error) {
    if (!(error instanceof KeystoreNotFoundError)) throw error;
  }
  try {
    const identity = await createKeystore(path, options);
    return { identity, encrypted: options.passphrase !== undefined && options.passphrase !== "", created: true };
  } catch (error) {
    // Another process created it between our stat and our link: use theirs.
    if (error instanceof KeystoreExistsError) return { ...(await loadKeystore(path, options)), created: false };
    throw error;
  }
}

/** A uniformly random valid secp256k1 private key. */
function generatePrivateKey(): Uint8Array {
  for (;;) {
    const candidate = new Uint8Array(randomBytes(PRIVATE_KEY_LENGTH));
    if (isValidPrivateKey(candidate)) return candidate;
  }
}

/** fsync a directory so a new entry in it survives a crash (best effort where directories cannot be opened). */
async function syncDirectory(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch {
    // Some platforms and filesystems refuse to open or sync a directory; the file itself is synced.
  } finally {
    await handle?.close();
  }
}
