/**
 * The two ways an action touches the chain, with errors typed on the way out: `readChain` (a view call) and
 * `sendTransaction` (sign, send, wait for the receipt, check its status). Reverts become ChainRevertError,
 * a silent endpoint ChainUnreachableError (see revert-errors.ts).
 */
import { parseEventLogs, type Abi, type ContractEventName, type Hex, type ParseEventLogsReturnType, type TransactionReceipt } from "viem";
import { ChainAccountRequiredError, ChainTransactionFailedError, InterruptedError } from "../errors.ts";
import type { DsmpChainClient, DsmpPublicClient, DsmpWalletClient } from "./chain-client.ts";
import { toChainError } from "./revert-errors.ts";

/**
 * Longest wait for a receipt. Three minutes covers a congested public chain at a fair gas price; past that,
 * the transaction is probably stuck (underpriced) and a person should look, rather than wait on.
 */
export const RECEIPT_TIMEOUT_MS = 180_000;

/** A mined, successful transaction. */
export interface MinedTransaction {
  hash: Hex;
  receipt: TransactionReceipt;
}

/**
 * Run a view call; a revert or a dead endpoint comes out typed.
 * @example
 * const count = await readChain(client, (pub) =>
 *   pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "serviceCount" }));
 */
export async function readChain<T>(client: DsmpChainClient, read: (publicClient: DsmpPublicClient) => Promise<T>): Promise<T> {
  try {
    return await read(client.public);
  } catch (error) {
    throw toChainError(error, client.errorContext);
  }
}

/** The client's wallet, or a ChainAccountRequiredError naming what needed it. */
export function requireWallet(client: DsmpChainClient, what: string): DsmpWalletClient {
  if (client.wallet === undefined) {
    throw new ChainAccountRequiredError(`${what} signs a transaction, and this client has no account`);
  }
  return client.wallet;
}

export interface SendTransactionOptions {
  /** Checked before sending; aborting while waiting for the receipt throws InterruptedError naming the hash. */
  signal?: AbortSignal | undefined;
}

/**
 * Send a transaction built by `write` from the client's wallet and wait for its receipt
 * (`client.confirmations` deep).
 * @param what Names the transaction in errors, e.g. `stake`.
 * @throws {ChainRevertError} when the node's gas estimate reverts (the usual way a revert shows).
 * @throws {ChainTransactionFailedError} when it was mined but reverted.
 * @throws {InterruptedError} when `signal` aborts.
 * @example
 * const { hash } = await sendTransaction(client, "stake", (wallet) =>
 *   wallet.writeContract({ address: client.contracts.staking, abi: abis.Staking, functionName: "stake", args: [amount] }));
 */
export async function sendTransaction(
  client: DsmpChainClient,
  what: string,
  write: (wallet: DsmpWalletClient) => Promise<Hex>,
  options: SendTransactionOptions = {},
): Promise<MinedTransaction> {
  const wallet = requireWallet(client, what);
  const { signal } = options;
  if (signal?.aborted) throw new InterruptedError(`interrupted before sending ${what}`, { cause: signal.reason });
  let hash: Hex;
  try {
    hash = await write(wallet);
  } catch (error) {
    const typed = toChainError(error, client.errorContext);
    if (typed instanceof InterruptedError) {
      throw new InterruptedError(`interrupted while sending ${what}: the transaction may still reach the chain`, { cause: error });
    }
    throw typed;
  }
  let receipt: TransactionReceipt;
  try {
    receipt = await untilAborted(
      client.public.waitForTransactionReceipt({ hash, confirmations: client.confirmations, timeout: RECEIPT_TIMEOUT_MS }),
      signal,
      () => new InterruptedError(`interrupted while waiting for ${what}: transaction ${hash} was sent and may still be mined`),
    );
  } catch (error) {
    throw toChainError(error, client.errorContext);
  }
  if (receipt.status !== "success") throw new ChainTransactionFailedError(hash, what);
  return { hash, receipt };
}

/** `promise`, or `onAbort()` thrown as soon as `signal` aborts. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) throw onAbort();
  let listener: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => reject(onAbort());
    signal.addEventListener("abort", listener, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (listener !== undefined) signal.removeEventListener("abort", listener);
  }
}

/**
 * The first event named `eventName` that `address` emitted in `receipt`, decoded with `abi`.
 * @throws {Error} when there is none (the contract did not do what its interface promises).
 */
export function findEvent<const TAbi extends Abi, TName extends ContractEventName<TAbi>>(
  receipt: TransactionReceipt,
  abi: TAbi,
  eventName: TName,
  address: Hex,
): ParseEventLogsReturnType<TAbi, TName, true, TName>[number] {
  const logs = parseEventLogs({ abi, eventName, logs: receipt.logs }).filter(
    (log) => log.address.toLowerCase() === address.toLowerCase(),
  );
  const first = logs[0];
  if (first === undefined) throw new Error(`transaction ${receipt.transactionHash} emitted no ${eventName} event`);
  return first as unknown as ParseEventLogsReturnType<TAbi, TName, true, TName>[number];
}
