"""`dms-tasks-bot doctor`: the first command an operator runs against the real cloud.

With the configured credentials it checks, one line each, what it found and what to fix:
- the endpoint, the credentials and the project (by listing the project's Kafka instances);
- each alias of the config file (its instance answers the tasks API);
- how the gateway pages the task list: `limit=1` at `start=0`, `1` and `2`, and at `offset=0`
  and `1`. The public references disagree (the API reference says 0-based `offset`, the SDK
  and Terraform send 1-based `start`), and the bot must know which the live gateway reads.

The exit code is 1 when anything would stop the bot, else 0 (bad settings exit 2 earlier).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO, TypeVar

from bot.dms.client import DmsClient
from bot.dms.errors import DmsError, DmsPermissionError
from bot.dms.paging import PagingBy
from bot.domain.instances import InstanceRef
from bot.messages import problem_for
from bot.settings import Settings

T = TypeVar("T")


class Verdict(StrEnum):
    OK = "ok"
    NOTE = "note"  # works, but worth knowing
    FAIL = "fail"  # would stop the bot


MARKS = {Verdict.OK: "✔", Verdict.NOTE: "⚠", Verdict.FAIL: "✘"}


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    found: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.verdict]} {self.found}"
        return f"{text} → {self.fix}" if self.fix else text


def _failure(what: str, exc: DmsError) -> Finding:
    problem = problem_for(exc)
    reference = f" ({problem.reference})" if problem.reference else ""
    return Finding(Verdict.FAIL, f"{what}: {problem.summary}{reference}", problem.hint)


async def _attempt(call: Callable[[], Awaitable[T]]) -> T | DmsError:
    try:
        return await call()
    except DmsError as exc:
        return exc


class Doctor:
    def __init__(self, settings: Settings, client: DmsClient) -> None:
        self._settings = settings
        self._client = client
        self.findings: list[Finding] = []

    def _say(self, finding: Finding, out: TextIO) -> None:
        self.findings.append(finding)
        print(finding.line(), file=out, flush=True)

    @property
    def healthy(self) -> bool:
        return all(f.verdict is not Verdict.FAIL for f in self.findings)

    async def run(self, out: TextIO) -> int:
        settings = self._settings
        project, region = settings.project_id, settings.default_region
        where = settings.endpoint or settings.endpoint_for(region or "")
        self._say(Finding(Verdict.OK, f"settings read; the DMS API is at {where}"), out)
        probe: InstanceRef | None = None
        if project and region:
            listed = await _attempt(lambda: self._client.list_instances(project, region))
            if isinstance(listed, DmsPermissionError):
                self._say(
                    Finding(
                        Verdict.NOTE,
                        "the credentials may not list instances (dms:instance:list)",
                        "names and help lists need it; aliases and instance ids work without",
                    ),
                    out,
                )
            elif isinstance(listed, DmsError):
                self._say(
                    _failure(f"listing the Kafka instances of project {project}", listed), out
                )
                return 1
            else:
                self._say(
                    Finding(
                        Verdict.OK,
                        f"credentials and project {project} accepted: "
                        f"{len(listed)} Kafka instance(s) in {region}",
                    ),
                    out,
                )
                if listed:
                    first = listed[0]
                    probe = InstanceRef(
                        instance_id=first.instance_id,
                        project_id=project,
                        region=region,
                        name=first.name,
                    )
        for alias, ref in settings.instance_refs().items():
            page = await _attempt(lambda ref=ref: self._client.task_page_at(ref, 1, "start"))
            if isinstance(page, DmsError):
                self._say(_failure(f"alias {ref.alias or alias}", page), out)
                continue
            count = page.total if page.total is not None else len(page.tasks)
            self._say(
                Finding(
                    Verdict.OK, f"alias {ref.alias or alias}: answers, {count} task(s) on record"
                ),
                out,
            )
            probe = probe or ref
        if probe is None:
            self._say(
                Finding(
                    Verdict.NOTE,
                    "no instance to probe paging on",
                    "add an alias to DMS_BOT_CONFIG, or run doctor with credentials that see one",
                ),
                out,
            )
        else:
            await self._paging(probe, out)
        return 0 if self.healthy else 1

    async def _paging(self, instance: InstanceRef, out: TextIO) -> None:
        name = instance.display_name

        async def first_id(position: int, by: PagingBy) -> str | DmsError | None:
            page = await _attempt(lambda: self._client.task_page_at(instance, position, by))
            if isinstance(page, DmsError):
                return page
            return page.tasks[0].id if page.tasks else None

        start = {n: await first_id(n, "start") for n in (0, 1, 2)}
        offset = {n: await first_id(n + 1, "offset") for n in (0, 1)}
        errors = [v for v in (*start.values(), *offset.values()) if isinstance(v, DmsError)]
        # An error at start=0 only says that start is 1-based.
        fatal = [e for e in errors if e is not start[0]]
        if fatal:
            self._say(_failure(f"probing paging on {name}", fatal[0]), out)
            return
        if start[1] is None:
            self._say(
                Finding(
                    Verdict.NOTE,
                    f"{name} keeps no tasks, so paging could not be probed",
                    "run doctor again once an instance has a few tasks",
                ),
                out,
            )
            return
        reads_start = start[2] not in (None, start[1])
        reads_offset = offset[1] not in (None, offset[0])
        if start[2] is None and offset[1] is None:
            self._say(
                Finding(Verdict.NOTE, f"{name} keeps only one task: paging cannot be probed"), out
            )
        elif reads_start:
            zero = "refused" if isinstance(start[0], DmsError) else "read as 1"
            self._say(
                Finding(
                    Verdict.OK,
                    f"the gateway pages with start, 1-based (start=0 {zero}), as the SDK and "
                    "Terraform do",
                ),
                out,
            )
        elif reads_offset:
            self._say(
                Finding(
                    Verdict.NOTE,
                    "the gateway ignores start and pages with offset, 0-based, as the current API "
                    "reference says",
                    "nothing to do: the bot notices and pages with offset",
                ),
                out,
            )
        else:
            self._say(
                Finding(
                    Verdict.FAIL,
                    "the gateway ignores both start and offset: windows longer than one page "
                    "cannot be read whole",
                    "report it to Huawei Cloud support with a request id from the bot's log",
                ),
                out,
            )
        await self._page_size(instance, out)

    async def _page_size(self, instance: InstanceRef, out: TextIO) -> None:
        page = await _attempt(lambda: self._client.task_page_at(instance, 1, "start", limit=100))
        if isinstance(page, DmsError) or page.total is None:
            return
        expected = min(page.total, 100)
        if len(page.tasks) < expected:
            self._say(
                Finding(
                    Verdict.NOTE,
                    f"the gateway returns at most {len(page.tasks)} tasks a page (asked for 100)",
                    "nothing to do: the bot steps by what comes back",
                ),
                out,
            )


async def run_doctor(settings: Settings, out: TextIO) -> int:
    from bot.runtime import Runtime

    runtime = Runtime(settings, with_slack=False)
    try:
        return await Doctor(settings, runtime.dms).run(out)
    finally:
        await runtime.stop()
