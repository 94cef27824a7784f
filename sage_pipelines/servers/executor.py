"""The Dagster executor of a remote server: dagster-celery's, on that server's queue, resolved at
run time, plus a watch that fails a step whose worker died.

Why not dagster-celery's `celery_executor` with run config: its config needs the full broker
URL, and run config is stored and shown in the UI. This executor's config holds only the server
name; the broker URL (password included) is decrypted from the store when the run starts, in
the run's process. Before submitting anything it connects to the broker once, so a broker that
is down fails the run within seconds with a message naming the server, instead of after
dagster-celery's ~19 s of retries.

dagster-celery alone leaves a run STARTED forever when a whole worker dies mid-step (the step's
result never arrives). Each submitted step is wrapped in a `WatchedResult`: once the step is
STARTED (Celery records the worker node that took it), the node must keep answering pings and
listing the task as active; after `lost_after_seconds` without that, the step fails with a
message naming the server and the worker node. The execution loop itself is dagster-celery's
(`core_celery_execution_loop`), used as it is. A step is sent by name (`send_task`) with the
arguments dagster-celery's `_submit_task` sends; `_submit_task` itself registers a new task
function on the app for every step, so the second step of a run made Celery print a 9-line
`DuplicateTaskNameWarning` on stderr. Messages are signed (`signing`): a reply that is not
signed by this installation fails the step at once.
"""

from __future__ import annotations

import time
from typing import Any

from dagster import Executor, Field, executor, multiple_process_executor_requirements
from dagster._core.execution.retries import RetryMode
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import pack_value
from dagster_celery.config import TASK_EXECUTE_PLAN_NAME

from sage_pipelines.errors import SageError
from sage_pipelines.security import redact
from sage_pipelines.servers.celery_app import app_args as celery_app_args, check_broker
from sage_pipelines.servers.signing import refusal_in
from sage_pipelines.services.servers import broker_url, display_endpoint, get_server
from sage_pipelines.store.db import session_scope

LOST_AFTER_SECONDS = 30.0
POLL_SECONDS = 2.0


class ServerUnavailable(SageError):
    """The server's broker cannot be reached: nothing was submitted."""


class StepLost(SageError):
    """A step's worker died (or forgot the step) while running it."""


class ServerStepFailed(SageError):
    """A step failed on a remote server outside the step itself (worker lost, task error)."""


class WorkerWatch:
    """Asks the server's workers, at most every `poll` seconds, which tasks each node runs."""

    def __init__(self, app: Any, server: str, lost_after: float, poll: float = POLL_SECONDS) -> None:
        self.app, self.server, self.lost_after, self.poll = app, server, lost_after, poll
        self._checked = 0.0
        self._active: dict[str, set[str]] | None = None
        self._missing_since: dict[str, float] = {}

    def _active_by_node(self) -> dict[str, set[str]] | None:
        now = time.monotonic()
        if now - self._checked >= self.poll:
            self._checked = now
            try:
                replies = self.app.control.inspect(timeout=1.0).active() or {}
                self._active = {node: {t.get("id") for t in tasks} for node, tasks in replies.items()}
            except Exception:  # broker gone: nobody can confirm the step is alive
                self._active = {}
        return self._active

    def lost(self, task_id: str, state: str, info: Any) -> str | None:
        """Why the step of `task_id` is lost, or None while it is queued, running or finished."""
        if state != "STARTED":
            self._missing_since.pop(task_id, None)
            return None
        node = info.get("hostname") if isinstance(info, dict) else None
        active = self._active_by_node()
        if active is None or (node in active and task_id in active[node]):
            self._missing_since.pop(task_id, None)
            return None
        since = self._missing_since.setdefault(task_id, time.monotonic())
        if time.monotonic() - since < self.lost_after:
            return None
        what = "stopped answering" if node not in (active or {}) else "no longer runs it (restarted?)"
        return (f"server {self.server}: worker {node or '(unknown node)'} {what} while running this step "
                f"(no confirmation for {self.lost_after:.0f} s); the step was lost, the destination keeps "
                "its previous state")


class WatchedResult:
    """A Celery `AsyncResult` as dagster-celery's loop uses it (`ready`, `get`, `revoke`), which
    also turns ready when the watch finds the step lost, and names the server in every error."""

    def __init__(self, result: Any, watch: WorkerWatch, step_key: str) -> None:
        self.result, self.watch, self.step_key = result, watch, step_key
        self.lost_reason: str | None = None

    def ready(self) -> bool:
        try:
            if self.result.ready():
                return True
            self.lost_reason = self.watch.lost(self.result.id, self.result.state, self.result.info)
        except Exception as exc:
            refusal = refusal_in(exc)
            if refusal is not None:  # a reply this installation did not sign: never trust it
                self.lost_reason = (f"server {self.watch.server}: step {self.step_key}: a reply from the worker "
                                    f"was refused: {refusal}")
            else:  # the result backend is unreachable
                self.lost_reason = self.watch.lost(self.result.id, "STARTED", {"error": str(exc)})
        return self.lost_reason is not None

    def get(self) -> Any:
        if self.lost_reason:
            raise StepLost(self.lost_reason)
        try:
            return self.result.get(propagate=True, disable_sync_subtasks=False)
        except Exception as exc:
            raise ServerStepFailed(f"server {self.watch.server}: step {self.step_key} failed on the worker: "
                                   f"{type(exc).__name__}: {redact(str(exc))}") from None

    def revoke(self) -> None:
        self.result.revoke(terminate=True)

    @property
    def id(self) -> str:
        return self.result.id


class ServerExecutor(Executor):
    """Runs each step as a dagster-celery task on the queue of server `server`."""

    def __init__(self, server: str, lost_after: float = LOST_AFTER_SECONDS) -> None:
        self.server = server
        self.lost_after = lost_after
        self._retries = RetryMode(RetryMode.DISABLED)
        self._app_args: dict[str, Any] | None = None

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def app_args(self) -> dict[str, Any]:
        """What dagster-celery's loop builds its Celery app from (decrypted here, in memory only)."""
        if self._app_args is None:
            with session_scope() as session:
                url = broker_url(session, get_server(session, self.server))
            self._app_args = {**celery_app_args(self.server, url), "retries": self._retries}
        return self._app_args

    def execute(self, plan_context: Any, execution_plan: Any):
        from dagster._core.errors import DagsterSubprocessError
        from dagster_celery.core_execution_loop import core_celery_execution_loop
        from dagster_celery.make_app import make_app

        app = make_app(self.app_args())
        try:
            check_broker(app)
        except Exception as exc:
            with session_scope() as session:
                shown = display_endpoint(get_server(session, self.server))
            raise ServerUnavailable(f"server {self.server}: broker {shown} is unreachable "
                                    f"({type(exc).__name__}: {redact(str(exc))}); no step was sent") from None
        watch = WorkerWatch(app, self.server, self.lost_after)

        def submit(app_: Any, context: Any, step: Any, queue: str, priority: int, known_state: Any) -> WatchedResult:
            return WatchedResult(send_step(app_, context, step, queue, priority, known_state), watch, step.key)

        try:
            yield from core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)
        except DagsterSubprocessError as exc:
            reasons = [error_line(info) for info in exc.subprocess_error_infos or []]
            raise ServerStepFailed("; ".join(reasons) or f"server {self.server}: a step failed on the worker") from None
        finally:
            app.close()


def send_step(app: Any, context: Any, step: Any, queue: str, priority: int, known_state: Any) -> Any:
    """Send one step to `queue` as dagster-celery's `execute_plan` task; its AsyncResult."""
    args = ExecuteStepArgs(
        job_origin=context.reconstructable_job.get_python_origin(),
        run_id=context.dagster_run.run_id,
        step_keys_to_execute=[step.key],
        instance_ref=context.instance.get_ref(),
        retry_mode=context.executor.retries.for_inner_plan(),
        known_state=known_state,
        print_serialized_events=True,
    )
    return app.send_task(TASK_EXECUTE_PLAN_NAME, kwargs={
        "execute_step_args_packed": pack_value(args),
        "executable_dict": context.reconstructable_job.to_dict(),
    }, priority=priority, queue=queue, routing_key=f"{queue}.execute_plan")


def error_line(info: Any) -> str:
    """The last line of a serialized error, without the class path when the class is ours (its
    message says it all): `server X: ...` out of a `StepLost`, `ventas.csv, line 5, ...` out of a
    `DataError`. Anyone else's error keeps its class (`KeyError: 'x'`): it is a bug to report."""
    line = (info.message or "").strip().splitlines()[-1] if info.message else (info.cls_name or "error")
    head, sep, rest = line.partition(": ")
    return rest if sep and head.startswith("sage_pipelines.") and " " not in head else line


@executor(
    name="sage_server",
    config_schema={
        "server": Field(str, description="The materialization server (its Celery queue is its name)."),
        "lost_after_seconds": Field(float, is_required=False, default_value=LOST_AFTER_SECONDS,
                                    description="Fail a running step whose worker does not confirm it "
                                                "for this long."),
    },
    requirements=multiple_process_executor_requirements(),
)
def server_executor(init_context) -> ServerExecutor:
    """Steps go to the Celery worker(s) of one SAGE server; the broker URL never enters config."""
    config = init_context.executor_config
    return ServerExecutor(config["server"], float(config["lost_after_seconds"]))
