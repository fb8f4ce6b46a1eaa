import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadKeystore } from "../identity/keystore.ts";
import { createMemoryIo } from "./cli-io.ts";
import { EXIT_FAILURE, EXIT_OK, runCli } from "./main.ts";

describe("dsmp node keygen", () => {
  const dir = mkdtempSync(join(tmpdir(), "dsmp-keygen-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a keystore (mode 0600) whose key is the node it prints, and never overwrites it", async () => {
    const keystore = join(dir, "keys", "node-key.json");
    const io = createMemoryIo();
    expect(await runCli(["node", "keygen", "--keystore", keystore, "--json"], io, { env: {} })).toBe(EXIT_OK);
    const printed = JSON.parse(io.out()) as { node: string; peerId: string; encrypted: boolean };
    const { identity } = await loadKeystore(keystore);
    expect(printed).toMatchObject({ keystore, node: identity.address, peerId: identity.peerId.toString(), encrypted: false });
    expect(statSync(keystore).mode & 0o777).toBe(0o600);

    const again = createMemoryIo();
    expect(await runCli(["node", "keygen", "--keystore", keystore], again, { env: {} })).toBe(EXIT_FAILURE);
    expect(again.err()).toContain(keystore);
    expect((await loadKeystore(keystore)).identity.address).toBe(identity.address);
  });

  it("encrypts with the passphrase from the environment", async () => {
    const keystore = join(dir, "encrypted.json");
    const io = createMemoryIo();
    expect(await runCli(["node", "keygen", "--keystore", keystore, "--passphrase-env", "MY_PASS", "--json"], io, { env: { MY_PASS: "s3cret" } })).toBe(EXIT_OK);
    expect(JSON.parse(io.out())).toMatchObject({ encrypted: true });
    await expect(loadKeystore(keystore)).rejects.toThrow(/passphrase/);
    expect((await loadKeystore(keystore, { passphrase: "s3cret" })).identity.address).toBe((JSON.parse(io.out()) as { node: string }).node);
  });

  it("an empty passphrase variable is no passphrase: the key is stored in the clear and said to be", async () => {
    const keystore = join(dir, "empty-pass.json");
    const io = createMemoryIo();
    expect(await runCli(["node", "keygen", "--keystore", keystore, "--json"], io, { env: { DSMP_KEYSTORE_PASSPHRASE: "" } })).toBe(EXIT_OK);
    expect(JSON.parse(io.out())).toMatchObject({ encrypted: false });
    expect((await loadKeystore(keystore)).identity.address).toBe((JSON.parse(io.out()) as { node: string }).node);
  });

  it("node register without a keystore says how to make one", async () => {
    const missing = join(dir, "nope.json");
    const io = createMemoryIo();
    const argv = ["node", "register", "--keystore", missing, "--cpu", "1000", "--memory", "1024", "--slots", "1"];
    expect(await runCli(argv, io, { env: {} })).toBe(EXIT_FAILURE);
    expect(io.err()).toContain(`dsmp node keygen --keystore ${missing}`);
  });
});
