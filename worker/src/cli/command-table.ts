/**
 * Every `dsmp` command, in the order `dsmp --help` lists them. A command group lives in its own file and
 * exports its specs; adding a group is one import and one spread here.
 *
 * `node start`, `node status` and `call` (node-daemon.ts) talk to an Xnode rather than the chain.
 */
import type { CliCommand } from "./command-spec.ts";
import { escrowCommands } from "./escrow.ts";
import { nodeDaemonCommands } from "./node-daemon.ts";
import { nodeRegisterCommands } from "./node-register.ts";
import { serviceCommands } from "./service.ts";
import { serviceStatCommands } from "./service-stat.ts";
import { networkStatusCommands } from "./network-status.ts";
import { resourceProofCommands } from "./resource-proofs.ts";
import { stakeCommands } from "./stake.ts";
import { subscribeCommands } from "./subscribe.ts";
import { taskCommands } from "./task.ts";
import { tokenCommands } from "./token.ts";

export const COMMANDS: readonly CliCommand[] = [
  ...stakeCommands,
  ...nodeRegisterCommands,
  ...nodeDaemonCommands,
  ...serviceCommands,
  ...serviceStatCommands,
  ...networkStatusCommands,
  ...resourceProofCommands,
  ...subscribeCommands,
  ...escrowCommands,
  ...taskCommands,
  ...tokenCommands,
];
