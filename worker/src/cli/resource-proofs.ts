/**
 * `dsmp network proofs` and `dsmp network prove <node>`: Proof of Resource as one node has checked it
 * (docs/proof-of-resource.md) — per Xnode, the CPU it advertises against what its latest compute challenge
 * showed — and a challenge of one Xnode on demand. Read `GET /v1/resource-proofs` and
 * `POST /v1/resource-proofs/<node>/challenge` of the node's control API.
 */
import { getAddress, isAddress } from "viem";
import { CliUsageError } from "../errors.ts";
import type { ChallengeResult, ResourceProofView } from "../resource-proof/resource-proof-service.ts";
import { CONTROL_API_OPTION, controlApiFailure, controlApiUrl } from "./control-api.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput } from "./command-spec.ts";
import { fetchOrExplain } from "./node-daemon.ts";
import { printJson, printLine, printTable } from "./output.ts";

/** Failures printed without --json. */
const FAILURES_SHOWN = 10;

const cores = (millicores: number | undefined): string => (millicores === undefined ? "-" : `${(millicores / 1000).toFixed(millicores % 1000 === 0 ? 0 : 2)}`);
const ms = (value: number | undefined): string => (value === undefined ? "-" : `${Math.round(value)}ms`);
const age = (at: number | undefined): string => (at === undefined ? "-" : `${Math.max(0, Math.round((Date.now() - at) / 1000))}s ago`);

async function explainFailure(res: Response, api: string): Promise<never> {
  throw await controlApiFailure(res, api, `the node at ${api} does not run Proof of Resource, or does not know that node`);
}

async function proofsCommand(input: CommandInput, io: CliIo): Promise<void> {
  const api = controlApiUrl(input);
  const res = await fetchOrExplain(`${api}/v1/resource-proofs`, { signal: io.signal }, "the node's control API");
  if (!res.ok) await explainFailure(res, api);
  const view = (await res.json()) as ResourceProofView;
  if (input.global.json) {
    printJson(io, view);
    return;
  }
  printLine(
    io,
    `as checked by ${view.verifier}: one challenge every ${view.intervalMs / 1000} s, n = ${view.sizing.matrixSize}, reference core ${(view.sizing.minWorkPerCoreSecond / 1e6).toFixed(0)} M multiply-adds/s`,
  );
  if (view.nodes.length === 0) printLine(io, "no other active Xnode to check");
  else {
    printTable(
      io,
      [
        { header: "node", cell: (n) => n.node },
        { header: "state", cell: (n) => n.state },
        { header: "cores_advertised", cell: (n) => cores(n.advertisedMillicores), alignRight: true },
        { header: "cores_shown", cell: (n) => cores(n.provenMillicores), alignRight: true },
        { header: "answer", cell: (n) => ms(n.elapsedMs), alignRight: true },
        { header: "bound", cell: (n) => ms(n.plan?.deadlineMs), alignRight: true },
        { header: "reason", cell: (n) => n.reason ?? "-" },
        { header: "checked", cell: (n) => age(n.lastVerdictAt), alignRight: true },
      ],
      view.nodes,
    );
  }
  printLine(io, "");
  if (view.failures.length === 0) printLine(io, "failed proofs: none");
  else {
    printLine(io, `failed proofs (latest ${Math.min(FAILURES_SHOWN, view.failures.length)} of ${view.failures.length}):`);
    for (const f of view.failures.slice(0, FAILURES_SHOWN)) {
      printLine(io, `  ${new Date(f.at).toISOString()}  ${f.node}  ${f.reason}  advertised ${cores(f.advertisedMillicores)} cores, shown ${cores(f.provenMillicores)}${f.detail === undefined ? "" : `  (${f.detail})`}`);
    }
  }
}

async function proveCommand(input: CommandInput, io: CliIo): Promise<void> {
  const node = input.argument("node");
  if (!isAddress(node)) throw new CliUsageError(`<node> must be an Xnode address (0x + 40 hex digits), got "${node}"`);
  const api = controlApiUrl(input);
  if (!input.global.json) printLine(io, `challenging ${getAddress(node)} through ${api} …`);
  const res = await fetchOrExplain(`${api}/v1/resource-proofs/${getAddress(node)}/challenge`, { method: "POST", signal: io.signal }, "the node's control API");
  if (!res.ok) await explainFailure(res, api);
  const result = (await res.json()) as ChallengeResult;
  if (input.global.json) {
    printJson(io, result);
    return;
  }
  const { plan, verdict } = result;
  printLine(io, `challenge: ${plan.count} product(s) of ${plan.n}×${plan.n} matrices (${(plan.work / 1e6).toFixed(0)} M multiply-adds), answer due within ${plan.deadlineMs} ms`);
  if (verdict === undefined) {
    printLine(io, `refused (${result.refusal}); the node counts as refusing only after several refusals in a row — try again in a minute`);
    return;
  }
  printLine(io, `answer: ${ms(result.elapsedMs)}, ${verdict.provenMillicores === undefined ? "no capacity shown" : `${cores(verdict.provenMillicores)} reference cores shown`}`);
  printLine(io, `verdict: ${verdict.passed ? "proven" : `FAILED (${verdict.reason}${result.detail === undefined ? "" : `: ${result.detail}`})`}`);
}

export const resourceProofCommands: readonly CliCommand[] = [
  {
    path: ["network", "proofs"],
    summary: "Proof of Resource: each Xnode's advertised CPU against what its latest compute challenge showed",
    description:
      "A node challenges one other active Xnode per interval: two seeded matrices per product, multiplied within the time the advertised CPU needs at the reference rate, checked with Freivalds' algorithm. A wrong product, a late answer, no answer or repeated refusals fail.",
    options: [CONTROL_API_OPTION],
    examples: ["dsmp network proofs --api http://127.0.0.1:4662", "dsmp network proofs --json | jq '.nodes[] | select(.state == \"failed\")'"],
    run: proofsCommand,
  },
  {
    path: ["network", "prove"],
    summary: "challenge one Xnode's advertised CPU now, from a node, and print the verdict",
    description:
      "Asks the node at --api to send a compute challenge to <node> now, outside its rotation, and prints the plan, the answer time and the verdict (with --json: .verdict.passed). A prover answers each verifier at most once a minute; sooner it refuses as rate-limited.",
    positionals: [{ name: "node", description: "the Xnode's address (as listed by `dsmp network status`)" }],
    options: [CONTROL_API_OPTION],
    examples: ["dsmp network prove 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --api http://127.0.0.1:4662", "dsmp network prove 0x7099…79C8 --json | jq .verdict"],
    run: proveCommand,
  },
];
