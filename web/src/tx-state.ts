/**
 * The life of one user action that sends transactions: idle → signing (waiting for the wallet) → pending (sent,
 * waiting for the receipt) → … → confirmed, or → error with a decoded reason. An action may send several
 * transactions (approve, then subscribe); each step is named. Pure reducer; the hook in tx-button.tsx runs it.
 */
import type { Hex } from "viem";

export type TxState =
  | { status: "idle" }
  | { status: "signing"; step: string; done: Hex[] }
  | { status: "pending"; step: string; hash: Hex; done: Hex[] }
  | { status: "confirmed"; hashes: Hex[]; summary: string }
  | { status: "error"; step: string; message: string; kind: "rejected" | "revert" | "other"; done: Hex[] };

export type TxEvent =
  | { type: "sign"; step: string }
  | { type: "sent"; hash: Hex }
  | { type: "mined"; hash: Hex }
  | { type: "finish"; summary: string }
  | { type: "fail"; message: string; kind: "rejected" | "revert" | "other" }
  | { type: "reset" };

const doneOf = (s: TxState): Hex[] => ("done" in s ? s.done : s.status === "confirmed" ? s.hashes : []);

export function txReducer(state: TxState, event: TxEvent): TxState {
  switch (event.type) {
    case "reset":
      return { status: "idle" };
    case "sign":
      return { status: "signing", step: event.step, done: state.status === "confirmed" || state.status === "error" ? [] : doneOf(state) };
    case "sent":
      if (state.status !== "signing") return state;
      return { status: "pending", step: state.step, hash: event.hash, done: state.done };
    case "mined":
      if (state.status !== "pending" || state.hash !== event.hash) return state;
      return { status: "signing", step: state.step, done: [...state.done, event.hash] };
    case "finish":
      return { status: "confirmed", hashes: doneOf(state), summary: event.summary };
    case "fail":
      return { status: "error", step: "step" in state ? state.step : "", message: event.message, kind: event.kind, done: doneOf(state) };
  }
}

/** The one line a screen reader announces and a person reads. */
export function describeTxState(s: TxState): string {
  switch (s.status) {
    case "idle":
      return "";
    case "signing":
      return `${s.step}: confirm in your wallet…`;
    case "pending":
      return `${s.step}: pending — transaction ${s.hash.slice(0, 10)}… sent, waiting for confirmation`;
    case "confirmed":
      return `confirmed: ${s.summary}`;
    case "error":
      return s.kind === "rejected" ? `${s.step}: cancelled — ${s.message}` : `${s.step ? `${s.step} ` : ""}failed: ${s.message}`;
  }
}
