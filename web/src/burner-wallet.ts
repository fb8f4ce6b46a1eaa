/**
 * The dev burner account: a well-known Hardhat development key used straight from the page, so a newcomer can
 * click through the devnet without installing a wallet. Only ever offered on chain 31337 (Hardhat), where the
 * key is public and the tokens worthless. It is an EIP-1193 provider (signs locally with a viem local account,
 * forwards reads to the chain's JSON-RPC) handed to wagmi's `injected` connector.
 */
import { createWalletClient, http, numberToHex, type Address, type EIP1193Provider, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Hardhat's chain id: the only chain the burner exists on. */
export const DEV_CHAIN_ID = 31337;

/**
 * Development account 9 of the mnemonic "test test … junk" (scripts/lib/dev-accounts.ts): the devnet funds
 * accounts 1–9 with OPEN and uses 1–4 for node operators, 5 for the service owner and 6 for the allow-listed
 * consumer (with the default 4 nodes), so 9 is free for the browser.
 */
export const DEV_BURNER_ACCOUNT_INDEX = 9;
export const DEV_BURNER_PRIVATE_KEY: Hex = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";
export const DEV_BURNER_LABEL = "dev burner (devnet only)";

interface RpcRequest {
  method: string;
  params?: unknown;
}

class ProviderRpcError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** An EIP-1193 provider for `privateKey` on `chainId` over `rpcUrl`. Throws unless chainId is 31337. */
export function createBurnerProvider(init: { chainId: number; rpcUrl: string; privateKey?: Hex }): EIP1193Provider {
  if (init.chainId !== DEV_CHAIN_ID) throw new Error(`the dev burner exists only on chain ${DEV_CHAIN_ID}, not ${init.chainId}`);
  const account = privateKeyToAccount(init.privateKey ?? DEV_BURNER_PRIVATE_KEY);
  const chain = { id: init.chainId, name: "DSMP devnet", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [init.rpcUrl] } } };
  const wallet = createWalletClient({ account, chain, transport: http(init.rpcUrl) });
  // Like a real wallet, the burner answers eth_accounts only after the person connected (eth_requestAccounts),
  // remembered for the tab's origin; otherwise wagmi's reconnect-on-load would connect it unasked.
  const AUTH_KEY = "dsmp.devBurner.connected";
  const storage = typeof localStorage === "undefined" ? undefined : localStorage;
  let authorized = storage?.getItem(AUTH_KEY) === "1";
  const authorize = (yes: boolean) => {
    authorized = yes;
    if (yes) storage?.setItem(AUTH_KEY, "1");
    else storage?.removeItem(AUTH_KEY);
  };
  let id = 0;
  const forward = async (method: string, params: unknown) => {
    const res = await fetch(init.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    if (body.error) throw Object.assign(new ProviderRpcError(body.error.code, body.error.message), { data: body.error.data });
    return body.result;
  };
  const request = async ({ method, params }: RpcRequest): Promise<unknown> => {
    const list = (params ?? []) as unknown[];
    switch (method) {
      case "eth_accounts":
        return authorized ? [account.address] : [];
      case "eth_requestAccounts":
        authorize(true);
        return [account.address];
      case "eth_chainId":
        return numberToHex(init.chainId);
      case "wallet_switchEthereumChain": {
        const wanted = Number((list[0] as { chainId: string }).chainId);
        if (wanted !== init.chainId) throw new ProviderRpcError(4902, `the dev burner only knows chain ${init.chainId}`);
        return null;
      }
      case "wallet_requestPermissions":
        authorize(true);
        return [{ parentCapability: "eth_accounts" }];
      case "wallet_getPermissions":
        return authorized ? [{ parentCapability: "eth_accounts" }] : [];
      case "wallet_revokePermissions":
        authorize(false);
        return null;
      case "eth_sendTransaction": {
        const tx = list[0] as { to?: Address; data?: Hex; value?: Hex; gas?: Hex };
        return wallet.sendTransaction({
          to: tx.to ?? null,
          data: tx.data,
          value: tx.value === undefined ? undefined : BigInt(tx.value),
          gas: tx.gas === undefined ? undefined : BigInt(tx.gas),
        } as Parameters<typeof wallet.sendTransaction>[0]);
      }
      case "personal_sign":
        return account.signMessage({ message: { raw: list[0] as Hex } });
      case "eth_signTypedData_v4": {
        const data = typeof list[1] === "string" ? JSON.parse(list[1]) : list[1];
        const { EIP712Domain: _domain, ...types } = data.types;
        return account.signTypedData({ domain: data.domain, types, primaryType: data.primaryType, message: data.message });
      }
      default:
        return forward(method, params);
    }
  };
  const provider = { request, on: () => provider, removeListener: () => provider };
  return provider as unknown as EIP1193Provider;
}
