/**
 * Hardhat's public development accounts. Their keys are known to everyone: they only ever fit a local chain
 * (chain id 31337), never a real network.
 */
import { bytesToHex, type Hex } from "viem";
import { mnemonicToAccount, type HDAccount } from "viem/accounts";

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** Hardhat's local chain id. */
export const DEV_CHAIN_ID = 31337;

/** Development account `index` (0 is the deployer / admin / treasury on the devnet). */
export function devAccount(index: number): HDAccount {
  return mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });
}

/** Private key of development account `index`. */
export function devPrivateKey(index: number): Hex {
  return bytesToHex(devAccount(index).getHdKey().privateKey!);
}
