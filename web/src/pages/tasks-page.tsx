/**
 * Compute tasks. The TaskManager contract is being written in parallel: until a deployment names it, the page
 * says so instead of pretending; once deployed, it lists what it can read without the (not yet generated) ABI.
 */
import { useDsmp } from "../dsmp-context.tsx";

export const TASK_STAGES = ["submitted", "assigned", "committed", "revealed", "finalized"] as const;

export function TasksPage() {
  const { contracts } = useDsmp();
  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Tasks</h1>
      {contracts.tasks === undefined ? (
        <p role="status" data-testid="tasks-missing">
          TaskManager not deployed on this chain. When it is, this page submits tasks (module, input, redundancy) and follows them through {TASK_STAGES.join(" → ")}.
        </p>
      ) : (
        <p role="status">
          TaskManager is deployed at <code>{contracts.tasks}</code>, but this build of the web UI does not carry its ABI yet: submit tasks with the CLI for now.
        </p>
      )}
      <ol className="stages" aria-label="Task stages">
        {TASK_STAGES.map((s) => (
          <li key={s}>{s}</li>
        ))}
      </ol>
    </section>
  );
}
