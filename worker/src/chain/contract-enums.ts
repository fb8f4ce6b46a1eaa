/**
 * The Solidity enums of the DSMP contracts as string names (viem decodes an enum as its uint8 index), so
 * action results read well and serialise to JSON as words. The order of each list is the enum's order.
 */

/** IXnodeRegistry.NodeStatus. */
export const NODE_STATUSES = ["none", "active", "jailed", "retired"] as const;
export type NodeStatusName = (typeof NODE_STATUSES)[number];

/** IServiceRegistry.ServiceKind. */
export const SERVICE_KINDS = ["http", "task"] as const;
export type ServiceKindName = (typeof SERVICE_KINDS)[number];

/** IServiceRegistry.Visibility. */
export const SERVICE_VISIBILITIES = ["public", "private"] as const;
export type ServiceVisibilityName = (typeof SERVICE_VISIBILITIES)[number];

/** IServiceRegistry.ServiceStatus. */
export const SERVICE_STATUSES = ["active", "retired"] as const;
export type ServiceStatusName = (typeof SERVICE_STATUSES)[number];

/** ILeaseEscrow.LeaseStatus. */
export const LEASE_STATUSES = ["none", "active", "closing", "ended", "terminated"] as const;
export type LeaseStatusName = (typeof LEASE_STATUSES)[number];

/** ITaskManager.TaskStatus. */
export const TASK_STATUSES = ["none", "pending", "active", "finalized", "refunded"] as const;
export type TaskStatusName = (typeof TASK_STATUSES)[number];

/** Name of enum value `index` in `names`, or `unknown(<index>)` for a value a newer contract added. */
export function enumName<const N extends readonly string[]>(names: N, index: number): N[number] | `unknown(${number})` {
  return names[index] ?? `unknown(${index})`;
}

/** Index of `name` in `names` (the value to pass to the contract). */
export function enumIndex<const N extends readonly string[]>(names: N, name: N[number]): number {
  const index = names.indexOf(name);
  if (index < 0) throw new RangeError(`${name} is not one of ${names.join(", ")}`);
  return index;
}
