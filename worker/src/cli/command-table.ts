/**
 * Every `dsmp` command, in the order `dsmp --help` lists them. A command group lives in its own file and
 * exports its specs; adding a group is one import and one spread here.
 *
 * Still to plug in (the daemon is built separately): `node start` and `node status` beside `node register`,
 * and `call <id> <path>` (a request through the local gateway). Their specs go in this list like the others;
 * the parser, `--help` and the help tests pick them up with no other change.
 */
import type { CliCommand } from "./command-spec.ts";
import { nodeRegisterCommands } from "./node-register.ts";
import { serviceCommands } from "./service.ts";
import { stakeCommands } from "./stake.ts";
import { subscribeCommands } from "./subscribe.ts";
import { tokenCommands } from "./token.ts";

export const COMMANDS: readonly CliCommand[] = [
  ...stakeCommands,
  ...nodeRegisterCommands,
  ...serviceCommands,
  ...subscribeCommands,
  ...tokenCommands,
];
