/**
 * ERC-2612 permit signing for tests and scripts (OpenToken's `permit`, used by the `*WithPermit` entry points).
 */
import { parseSignature, type Account, type Address, type Hex } from "viem";

/** What signing needs of the token: its address and two reads (a viem contract instance has them). */
export interface PermitToken {
  address: Address;
  read: { name(): Promise<string>; nonces(args: readonly [Address]): Promise<bigint> };
}

/** Anything that signs typed data for an account: a viem wallet client. */
export interface PermitSigner {
  account: Account;
  signTypedData(args: any): Promise<Hex>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type SignPermitParameters = {
  token: PermitToken;
  owner: PermitSigner;
  spender: Address;
  value: bigint;
  deadline: bigint;
  chainId: number;
  /** Defaults to the token's current nonce of `owner`. */
  nonce?: bigint;
};

export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** Signs an ERC-2612 permit and splits it into (v, r, s). */
export async function signPermit(parameters: SignPermitParameters): Promise<{ v: number; r: Hex; s: Hex }> {
  const { token, owner, spender, value, deadline, chainId } = parameters;
  const nonce = parameters.nonce ?? (await token.read.nonces([owner.account.address]));
  const signature = await owner.signTypedData({
    account: owner.account,
    domain: { name: await token.read.name(), version: "1", chainId, verifyingContract: token.address },
    types: PERMIT_TYPES,
    primaryType: "Permit",
    message: { owner: owner.account.address, spender, value, nonce, deadline },
  });
  const { r, s, yParity } = parseSignature(signature);
  return { v: 27 + yParity!, r, s };
}
