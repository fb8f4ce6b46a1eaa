/** Which node the page talks to, and whether it answers (the page keeps working from the chain when it does not). */
import { useQuery } from "@tanstack/react-query";
import { useRef } from "react";
import { useDsmp } from "../dsmp-context.tsx";
import { shortHex } from "../format.ts";
import { nodeGet, type NodeStatus } from "../node-api.ts";

export function useNodeStatus() {
  const { apiBase } = useDsmp();
  return useQuery({ queryKey: ["node-status"], queryFn: () => nodeGet<NodeStatus>(apiBase, "/v1/status", AbortSignal.timeout(5_000)), retry: 0 });
}

export function NodeIndicator() {
  const { apiBase, web } = useDsmp();
  const status = useNodeStatus();
  const downSince = useRef<number | undefined>(undefined);
  if (status.isError && downSince.current === undefined) downSince.current = Date.now();
  if (status.isSuccess && !status.isError) downSince.current = undefined;
  const online = status.isSuccess && !status.isError;
  return (
    <p className="node-indicator" data-testid="node-indicator" data-online={online}>
      <span className={online ? "dot ok" : "dot down"} aria-hidden="true" />
      Node {shortHex(web.node.address)} at <code>{apiBase}</code>:{" "}
      {online
        ? `online, synced to block ${status.data.chain.syncedBlock ?? "—"}, ${status.data.peers} peers`
        : status.isError
          ? `unreachable since ${new Date(downSince.current ?? Date.now()).toLocaleTimeString()} — chain reads still work; node figures show their last value`
          : "checking…"}
      {" · "}chain {web.chainId} via <code>{web.rpcUrl}</code>
    </p>
  );
}
