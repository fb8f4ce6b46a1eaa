/**
 * Proof of Resource in the UI: the serving node's checks of the other Xnodes' advertised CPU
 * (`GET /v1/resource-proofs`, docs/proof-of-resource.md), as one line per Xnode.
 */
import { useQuery } from "@tanstack/react-query";
import { getResourceProofs, type ResourceProofView } from "./node-api.ts";
import { useDsmp } from "./dsmp-context.tsx";

export const PROOFS_NOT_REPORTED = "not reported yet";

/** The serving node's checks, refreshed every 10 s. */
export function useResourceProofs() {
  const { apiBase } = useDsmp();
  return useQuery({ queryKey: ["resource-proofs"], queryFn: () => getResourceProofs(apiBase), refetchInterval: 10_000 });
}

const cores = (millicores: number): string => (millicores / 1000).toFixed(millicores % 1000 === 0 ? 0 : 1);

/** "proven · 5.2 of 2 CPU shown", "failed (too-slow) · 0.9 of 1000 CPU shown", or why there is nothing to show. */
export function proofText(view: ResourceProofView | null | undefined, address: string, pending: boolean): string {
  if (pending) return "…";
  if (!view) return PROOFS_NOT_REPORTED;
  if (address.toLowerCase() === view.verifier.toLowerCase()) return "this node (checked by the others)";
  const proof = view.nodes.find((n) => n.node.toLowerCase() === address.toLowerCase());
  if (proof === undefined) return "not active";
  if (proof.state === "unproven") return proof.lastVerdictAt === undefined ? "not checked yet" : `not proven at ${cores(proof.advertisedMillicores)} CPU yet`;
  const shown = proof.provenMillicores === undefined ? "" : ` · ${cores(proof.provenMillicores)} of ${cores(proof.advertisedMillicores)} CPU shown`;
  return proof.state === "proven" ? `proven${shown}` : `failed (${proof.reason ?? "?"})${shown}`;
}
