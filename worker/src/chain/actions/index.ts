/**
 * The DSMP chain actions, one per file (viem style: client first, `XParameters` / `XReturnType` /
 * `XErrorType`). Create the client with `createDsmpChainClient` (../chain-client.ts).
 */
export * from "./cancel-subscription.ts";
export * from "./draw-faucet.ts";
export * from "./ensure-allowance.ts";
export * from "./get-node.ts";
export * from "./get-service.ts";
export * from "./get-stake.ts";
export * from "./get-subscriber-count.ts";
export * from "./get-subscription.ts";
export * from "./get-token-balance.ts";
export * from "./grant-access.ts";
export * from "./list-services.ts";
export * from "./publish-service.ts";
export * from "./register-node.ts";
export * from "./request-unbond.ts";
export * from "./retire-service.ts";
export * from "./update-node-resources.ts";
export * from "./revoke-access.ts";
export * from "./stake.ts";
export * from "./subscribe.ts";
export * from "./subscribe-once.ts";
export * from "./update-service.ts";
export * from "./withdraw.ts";
export * from "./anchor-commit.ts";
export * from "./assign-task.ts";
export * from "./claim-task.ts";
export * from "./create-task.ts";
export * from "./get-task.ts";
export * from "./reallocate-task.ts";
export * from "./report-result.ts";
export * from "./submit-equivocation.ts";
export * from "./claim-usage.ts";
export * from "./deposit-escrow.ts";
export * from "./get-escrow.ts";
export * from "./usage-escrow-address.ts";
export * from "./withdraw-escrow.ts";
