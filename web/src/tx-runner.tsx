/**
 * Runs a user action that sends one or more transactions and shows each state: every call is simulated first
 * (a revert is shown, decoded, before anything is signed), then signed in the wallet (signing), sent (pending),
 * and counted only when its receipt says success (confirmed). Nothing assumes success.
 */
import { abis } from "@dsmp/contracts";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useReducer, useRef } from "react";
import { parseSignature, type Abi, type Address, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import { useConnection, useWalletClient } from "wagmi";
import { useDsmp } from "./dsmp-context.tsx";
import { decodeFailure } from "./revert-reasons.ts";
import { describeTxState, txReducer, type TxState } from "./tx-state.ts";

export interface WriteRequest {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

export interface TxContext {
  account: Address;
  client: PublicClient;
  /** Simulate, sign, send, wait for the receipt; throws on revert. */
  write(step: string, request: WriteRequest): Promise<TransactionReceipt>;
  /** Approve `spender` for exactly `amount` OPEN when the allowance is short. */
  ensureAllowance(spender: Address, amount: bigint): Promise<void>;
  /** Sign an ERC-2612 permit for exactly `amount` (no transaction): the struct the `…WithPermit` calls take. */
  permit(spender: Address, amount: bigint): Promise<Erc2612Permit>;
}

export interface Erc2612Permit {
  value: bigint;
  deadline: bigint;
  v: number;
  r: Hex;
  s: Hex;
}

/** How long a permit signature stays usable: long enough to be mined, short enough not to linger. */
export const PERMIT_LIFETIME_SECONDS = 1_800n;

class TxRevertedError extends Error {
  override readonly name = "TxRevertedError";
}

export function useTxRunner() {
  const dsmp = useDsmp();
  const { address } = useConnection();
  const { data: wallet } = useWalletClient();
  const queryClient = useQueryClient();
  const [state, dispatch] = useReducer(txReducer, { status: "idle" } as TxState);
  const busy = useRef(false);

  const run = useCallback(
    async (action: (tx: TxContext) => Promise<string>) => {
      if (busy.current) return;
      if (!wallet || !address) {
        dispatch({ type: "sign", step: "connect" });
        dispatch({ type: "fail", message: "connect a wallet first", kind: "other" });
        return;
      }
      busy.current = true;
      const client = dsmp.client;
      const write: TxContext["write"] = async (step, request) => {
        dispatch({ type: "sign", step });
        const { request: simulated } = await client.simulateContract({ ...request, account: address } as never);
        const hash: Hex = await wallet.writeContract(simulated as never);
        dispatch({ type: "sent", hash });
        const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
        if (receipt.status !== "success") throw new TxRevertedError(`${step}: transaction ${hash} reverted`);
        dispatch({ type: "mined", hash });
        return receipt;
      };
      const ensureAllowance: TxContext["ensureAllowance"] = async (spender, amount) => {
        const allowance = await client.readContract({ address: dsmp.contracts.token, abi: abis.OpenToken, functionName: "allowance", args: [address, spender] });
        if (allowance >= amount) return;
        await write("approve OPEN", { address: dsmp.contracts.token, abi: abis.OpenToken as Abi, functionName: "approve", args: [spender, amount] });
      };
      const permit: TxContext["permit"] = async (spender, value) => {
        const token = dsmp.contracts.token;
        const [[, name, version, chainId, verifyingContract], nonce, block] = await Promise.all([
          client.readContract({ address: token, abi: abis.OpenToken, functionName: "eip712Domain" }),
          client.readContract({ address: token, abi: abis.OpenToken, functionName: "nonces", args: [address] }),
          client.getBlock(),
        ]);
        const deadline = block.timestamp + PERMIT_LIFETIME_SECONDS;
        dispatch({ type: "sign", step: "sign permit" });
        const signature = await wallet.signTypedData({
          account: address,
          domain: { name, version, chainId, verifyingContract },
          types: { Permit: [{ name: "owner", type: "address" }, { name: "spender", type: "address" }, { name: "value", type: "uint256" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
          primaryType: "Permit",
          message: { owner: address, spender, value, nonce, deadline },
        });
        const { r, s, v, yParity } = parseSignature(signature);
        return { value, deadline, v: v === undefined ? yParity + 27 : Number(v), r, s };
      };
      try {
        const summary = await action({ account: address, client, write, ensureAllowance, permit });
        dispatch({ type: "finish", summary });
      } catch (err) {
        const failure = decodeFailure(err);
        dispatch({ type: "fail", message: failure.message, kind: failure.kind });
      } finally {
        busy.current = false;
        void queryClient.invalidateQueries();
      }
    },
    [wallet, address, dsmp, queryClient],
  );
  const reset = useCallback(() => dispatch({ type: "reset" }), []);
  return { state, run, reset, busy: state.status === "signing" || state.status === "pending" };
}

/** The live line under a form: pending / confirmed / error, announced to screen readers. */
export function TxStatus({ state, testId }: { state: TxState; testId?: string }) {
  const text = describeTxState(state);
  return (
    <div role="status" aria-live="polite" className={`tx tx-${state.status}`} data-testid={testId} data-status={state.status}>
      {text}
      {state.status === "confirmed" && state.hashes.length > 0 ? <span className="muted"> ({state.hashes.map((h) => `${h.slice(0, 10)}…`).join(", ")})</span> : null}
    </div>
  );
}
