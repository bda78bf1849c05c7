"""The async DMS API client: one shared httpx.AsyncClient, retries with backoff, typed errors.

DMS quirks this module lives with (see the API reference and the official SDK):
- GET /tasks pages by a 1-based `start` and a `limit` of at most 100; `task_count` is the total
  across all pages, sent as a string, and can be missing;
- `begin_time` / `end_time` are `YYYYMMDDHHmmss` in UTC;
- GET /instances pages by a 0-based `offset` and a `limit` of at most 50, and says how many
  instances exist in `instance_num`;
- a 401 must never be retried: five bad signatures in a row lock the AK for five minutes
  (APIGW.0301), so the only retried failures are 429, 5xx, timeouts, connection errors and 2xx
  bodies that are not the JSON object the API documents.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot.dms.errors import (
    DmsAuthError,
    DmsBadRequestError,
    DmsError,
    DmsNotFoundError,
    DmsPermissionError,
    DmsThrottledError,
    DmsUnavailableError,
)
from bot.dms.models import MAX_INSTANCE_PAGE_SIZE, MAX_PAGE_SIZE, TaskPage, parse_count
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Instance, Task, TaskWindow

log = logging.getLogger("bot.dms")

API_TIME_FORMAT = "%Y%m%d%H%M%S"
# Error texts quote the API's own message; cap it so a verbose gateway cannot flood Slack.
MAX_QUOTED_CHARS = 200
# DMS.10240101–104: the IAM token is invalid, expired, missing or scoped to another project.
_TOKEN_ERROR_CODES = frozenset({"DMS.10240101", "DMS.10240102", "DMS.10240103", "DMS.10240104"})
_RETRY_AGAIN_LATER = (
    "Try again in a few minutes; if it persists, check the Huawei Cloud status page."
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user the cloud is unavailable.

    Backoff is exponential with full jitter (a random delay in [0, min(max, base * 2^n)]), so
    several bot replicas hitting the same throttled gateway do not retry in lockstep. A
    Retry-After header replaces the computed delay, but the whole call never runs past `budget_s`:
    when the gateway asks for a longer wait than the budget has left, the call gives up at once
    rather than sleep and fail anyway.
    """

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 5.0
    budget_s: float = 20.0
    # A 429 without Retry-After: API Gateway counts requests per second (APIGW.0308, 200/s per
    # API by default) and Huawei says to come back after 2-5 s; a retry within the same second
    # only spends an attempt.
    throttled_delay_s: tuple[float, float] = (2.0, 5.0)

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """The jittered delay before retry `retry_number` (1 for the first retry)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (retry_number - 1)))
        return rng.uniform(0.0, max(ceiling, 0.0))

    def throttled_backoff(self, rng: random.Random) -> float:
        return rng.uniform(*self.throttled_delay_s)


@dataclass(frozen=True)
class _Operation:
    """What a call was doing, so that an error can say it in the user's terms."""

    action: str  # e.g. "list the background tasks of instance 4f1c…"
    iam_action: str
    project_id: str
    region: str
    instance_id: str | None = None
    instance_label: str | None = None
    task_id: str | None = None


@dataclass
class _Failure:
    """One retryable failed attempt."""

    kind: str  # "throttled", "server", "timeout", "connection", "malformed", "auth-backend"
    what: str  # plain words: "timed out after 10 s", "answered HTTP 500"
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    raised: DmsError | None = None


def format_api_time(moment: datetime) -> str:
    """An aware datetime as the API's `YYYYMMDDHHmmss` in UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would be read as UTC by the API and silently shift the window.
        raise ValueError("begin/end must be timezone-aware datetimes")
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _quote(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    if len(text) > MAX_QUOTED_CHARS:
        return text[: MAX_QUOTED_CHARS - 1] + "…"
    return text


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(error_code, error_msg, request_id) from an error response, whatever shape it has."""
    code = msg = request_id = None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        # DMS answers {"error_code", "error_msg"}; the API gateway adds "request_id"; some
        # services nest it as {"error": {"code", "message"}}.
        nested = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = body.get("error_code") or body.get("errorCode") or nested.get("code")
        msg = body.get("error_msg") or body.get("errorMsg") or nested.get("message")
        request_id = body.get("request_id")
    request_id = request_id or response.headers.get("X-Request-Id")
    return (
        _quote(str(code)) if code else None,
        _quote(str(msg)) if msg else None,
        _quote(str(request_id)) if request_id else None,
    )


def _seconds(value: float) -> str:
    return f"{value:g} s"


class DmsClient:
    """Calls the DMS for Kafka API for any project and region, through one connection pool."""

    def __init__(
        self,
        *,
        auth: httpx.Auth,
        endpoint_for: Callable[[str], str],
        retry: RetryPolicy = RetryPolicy(),
        timeout: httpx.Timeout | float = 10.0,
        page_concurrency: int = 10,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_concurrency < 1:
            raise ValueError("page_concurrency must be at least 1")
        self._auth = auth
        self._endpoint_for = endpoint_for
        self._retry = retry
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._page_concurrency = page_concurrency
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=self._timeout,
            # A busy incident channel can ask for many windows at once while the API is slow:
            # each waiting request holds a connection for the whole latency, so the pool is sized
            # for a burst (the gateway allows 200 requests/s per API; 429s are retried).
            limits=httpx.Limits(
                max_connections=max(10 * page_concurrency, 100),
                max_keepalive_connections=max(2 * page_concurrency, 20),
                keepalive_expiry=30.0,
            ),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"DmsClient(auth={self._auth!r}, retry={self._retry!r})"

    # ---- public API --------------------------------------------------------------------------

    async def list_tasks(
        self,
        instance: InstanceRef,
        *,
        start: int = 1,
        limit: int = 10,
        begin: datetime | None = None,
        end: datetime | None = None,
    ) -> TaskPage:
        """One page of an instance's background tasks, newest first."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
        if start < 1:
            # `start` is a 1-based position, despite the doc calling it a task id.
            raise ValueError(f"start must be 1 or more, not {start}")
        params: dict[str, str] = {"start": str(start), "limit": str(limit)}
        if begin is not None:
            params["begin_time"] = format_api_time(begin)
        if end is not None:
            params["end_time"] = format_api_time(end)
        body = await self._get(
            self._tasks_url(instance),
            params,
            instance.project_id,
            self._task_operation(instance),
            _task_list_problem,
        )
        return TaskPage.from_api(body, start=start, limit=limit)

    async def fetch_window(
        self, instance: InstanceRef, begin: datetime | None, end: datetime | None
    ) -> TaskWindow:
        """Every task of the instance in [begin, end), newest first, each task once."""
        fetched_at = self._clock()
        first = await self.list_tasks(instance, start=1, limit=MAX_PAGE_SIZE, begin=begin, end=end)
        pages = [first]
        if first.total is None:
            pages.extend(await self._sequential_pages(instance, begin, end, first))
        elif len(first.tasks) >= MAX_PAGE_SIZE:
            pages.extend(await self._concurrent_pages(instance, begin, end, first.total))
        return TaskWindow(
            tasks=_newest_first_unique(pages), begin=begin, end=end, fetched_at=fetched_at
        )

    async def show_task(self, instance: InstanceRef, task_id: str) -> Task:
        """One task by id (GET .../tasks/{task_id} answers with a one-task list)."""
        op = self._task_operation(instance, task_id=task_id)
        body = await self._get(
            f"{self._tasks_url(instance)}/{_segment(task_id)}",
            {},
            instance.project_id,
            op,
            _task_list_problem,
        )
        page = TaskPage.from_api(body, start=1, limit=1)
        match = next((t for t in page.tasks if t.id == task_id), None)
        if match is None and page.tasks:
            match = page.tasks[0]
        if match is None:
            raise DmsNotFoundError(
                summary=f"Task {task_id} was not found on instance {instance.display_name}.",
                hint="Its record may have been deleted; list the window again to see what is "
                "there now.",
                status=200,
            )
        return match

    async def list_instances(
        self, project_id: str, region: str, *, name: str | None = None, exact: bool = False
    ) -> list[Instance]:
        """Every Kafka instance of the project in the region (optionally by name)."""
        op = _Operation(
            action=f"list the Kafka instances of project {project_id} in {region}",
            iam_action="dms:instance:list",
            project_id=project_id,
            region=region,
        )
        url = f"{self._base(region)}/v2/{_segment(project_id)}/instances"
        found: list[Instance] = []
        seen: set[str] = set()
        offset = 0
        while True:
            params = {
                "engine": "kafka",
                "offset": str(offset),
                "limit": str(MAX_INSTANCE_PAGE_SIZE),
            }
            if name:
                params["name"] = name
                params["exact_match_name"] = "true" if exact else "false"
            body = await self._get(url, params, project_id, op, _instance_list_problem)
            raw = body.get("instances") or []
            batch = [Instance.model_validate(i) for i in raw if isinstance(i, dict)]
            fresh = [i for i in batch if i.instance_id not in seen]
            seen.update(i.instance_id for i in fresh)
            found.extend(fresh)
            total = parse_count(body.get("instance_num"))
            offset += len(raw)
            if not fresh or len(raw) < MAX_INSTANCE_PAGE_SIZE:
                break
            if total is not None and len(found) >= total:
                break
        return found

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
        closer = getattr(self._auth, "aclose", None)
        if closer is not None:
            await closer()

    # ---- paging ------------------------------------------------------------------------------

    async def _concurrent_pages(
        self,
        instance: InstanceRef,
        begin: datetime | None,
        end: datetime | None,
        total: int,
    ) -> list[TaskPage]:
        gate = asyncio.Semaphore(self._page_concurrency)

        async def page_at(start: int) -> TaskPage:
            async with gate:
                return await self.list_tasks(
                    instance, start=start, limit=MAX_PAGE_SIZE, begin=begin, end=end
                )

        pages: list[TaskPage] = []
        covered = MAX_PAGE_SIZE  # positions 1..covered are already requested
        # New tasks arriving while we page push the total up (a window that touches "now"); each
        # round fetches what the largest total seen so far says is still missing. The rounds are
        # bounded so that a gateway reporting ever-growing totals cannot keep us here.
        for _ in range(4):
            starts = list(range(covered + 1, total + 1, MAX_PAGE_SIZE))
            if not starts:
                break
            batch = await _gather_all(page_at(s) for s in starts)
            pages.extend(batch)
            covered = starts[-1] + MAX_PAGE_SIZE - 1
            totals = [p.total for p in batch if p.total is not None]
            if not totals or max(totals) <= total or len(batch[-1].tasks) < MAX_PAGE_SIZE:
                break
            total = max(totals)
        return pages

    async def _sequential_pages(
        self,
        instance: InstanceRef,
        begin: datetime | None,
        end: datetime | None,
        first: TaskPage,
    ) -> list[TaskPage]:
        # Without task_count the only end marker is a short page, the way Terraform pages
        # (start += len(tasks)). A page adding no new ids also ends it: a gateway that ignores
        # `start` would otherwise loop for ever.
        pages: list[TaskPage] = []
        seen = {t.id for t in first.tasks}
        last = first
        while len(last.tasks) >= MAX_PAGE_SIZE:
            start = last.start + len(last.tasks)
            last = await self.list_tasks(
                instance, start=start, limit=MAX_PAGE_SIZE, begin=begin, end=end
            )
            fresh = {t.id for t in last.tasks} - seen
            if not fresh:
                break
            seen |= fresh
            pages.append(last)
        return pages

    # ---- transport and retries -------------------------------------------------------------

    def _base(self, region: str) -> str:
        return self._endpoint_for(region).rstrip("/")

    def _tasks_url(self, instance: InstanceRef) -> str:
        return (
            f"{self._base(instance.region)}/v2/{_segment(instance.project_id)}"
            f"/instances/{_segment(instance.instance_id)}/tasks"
        )

    def _task_operation(self, instance: InstanceRef, task_id: str | None = None) -> _Operation:
        what = f"task {task_id} of instance" if task_id else "the background tasks of instance"
        return _Operation(
            action=f"read {what} {instance.display_name}",
            iam_action="dms:instance:getBackgroundTask",
            project_id=instance.project_id,
            region=instance.region,
            instance_id=instance.instance_id,
            instance_label=instance.display_name,
            task_id=task_id,
        )

    async def _get(
        self,
        url: str,
        params: Mapping[str, str],
        project_id: str,
        op: _Operation,
        problem_in: Callable[[dict[str, Any]], str | None],
    ) -> dict[str, Any]:
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            failure = await self._attempt(url, params, project_id, op, problem_in)
            if isinstance(failure, dict):
                return failure
            delay = self._delay_before_retry(failure, attempt, started)
            if delay is None:
                raise self._give_up(failure, op, attempt)
            log.info(
                "DMS GET %s failed (%s, status=%s, code=%s, request_id=%s); retry %d/%d in %.2f s",
                httpx.URL(url).path,
                failure.kind,
                failure.status,
                failure.error_code,
                failure.request_id,
                attempt,
                self._retry.attempts - 1,
                delay,
            )
            await self._sleep(delay)

    async def _attempt(
        self,
        url: str,
        params: Mapping[str, str],
        project_id: str,
        op: _Operation,
        problem_in: Callable[[dict[str, Any]], str | None],
    ) -> dict[str, Any] | _Failure:
        """The JSON body of a 2xx answer, a retryable failure, or a raised DmsError."""
        try:
            response = await self._http.get(
                url,
                params=params,
                headers={"X-Project-Id": project_id},
                auth=self._auth,
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            return _Failure(kind="timeout", what=f"timed out after {self._timeout_text()}")
        except httpx.UnsupportedProtocol as exc:
            raise DmsUnavailableError(
                summary=f"The DMS API address {_quote(url)} is not a usable http(s) URL.",
                hint="An admin should check DMS_ENDPOINT / DMS_REGION.",
            ) from exc
        except httpx.TransportError as exc:
            # Resets, refused connections, a proxy in the way, a gateway breaking HTTP framing.
            log.info("DMS transport error: %s", type(exc).__name__)
            return _Failure(kind="connection", what=_connection_failure(exc))
        except httpx.DecodingError:
            # A body whose Content-Encoding does not decode is as unusable as one that is not JSON.
            return _Failure(kind="malformed", what="returned a response that could not be decoded")
        except DmsError as exc:
            # Raised by an auth flow (the IAM token request); it says itself whether a retry
            # can help.
            if not exc.retryable:
                raise
            return _Failure(kind="auth-backend", what=exc.summary, raised=exc)

        status = response.status_code
        if 200 <= status < 300:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
            problem = problem_in(body) if isinstance(body, dict) else "not a JSON object"
            if problem is None:
                return body
            return _Failure(
                kind="malformed",
                what=f"returned a malformed response ({problem})",
                status=status,
                request_id=_quote(response.headers.get("X-Request-Id")),
            )
        code, msg, request_id = _error_fields(response)
        if status == 429:
            return _Failure(
                kind="throttled",
                what="throttled the request (HTTP 429)",
                status=status,
                error_code=code,
                error_msg=msg,
                request_id=request_id,
                retry_after_s=parse_retry_after(response.headers.get("Retry-After"), self._clock()),
            )
        if status >= 500:
            return _Failure(
                kind="server",
                what=f"answered HTTP {status}",
                status=status,
                error_code=code,
                error_msg=msg,
                request_id=request_id,
                retry_after_s=parse_retry_after(response.headers.get("Retry-After"), self._clock()),
            )
        raise self._client_error(status, code, msg, request_id, op)

    def _delay_before_retry(self, failure: _Failure, attempt: int, started: float) -> float | None:
        if attempt >= self._retry.attempts:
            return None
        remaining = self._retry.budget_s - (self._monotonic() - started)
        if failure.retry_after_s is not None:
            delay = failure.retry_after_s
        elif failure.kind == "throttled":
            delay = self._retry.throttled_backoff(self._rng)
        else:
            delay = self._retry.backoff(attempt, self._rng)
        if delay > remaining:
            return None
        return delay

    def _timeout_text(self) -> str:
        read = self._timeout.read
        return _seconds(read) if read is not None else "the configured timeout"

    # ---- error mapping -----------------------------------------------------------------------

    def _give_up(self, failure: _Failure, op: _Operation, attempts: int) -> DmsError:
        if failure.raised is not None:
            return failure.raised
        tries = "once" if attempts == 1 else f"{attempts} times"
        if failure.kind == "throttled":
            return DmsThrottledError(
                summary="Huawei Cloud is throttling requests; try again in a minute.",
                hint=f"The bot tried {tries}. If this happens often, fewer queries or digests "
                "should run at the same time.",
                status=failure.status,
                error_code=failure.error_code or "APIGW.0308",
                error_msg=failure.error_msg,
                request_id=failure.request_id,
                retryable=True,
            )
        # The error code and request id follow the summary in parentheses when shown, so the
        # number of tries goes into the hint rather than a second parenthesis.
        return DmsUnavailableError(
            summary=f"Huawei Cloud's DMS API {failure.what} when asked to {op.action}.",
            hint=f"The bot tried {tries}. {_RETRY_AGAIN_LATER}",
            status=failure.status,
            error_code=failure.error_code,
            error_msg=failure.error_msg,
            request_id=failure.request_id,
            retryable=True,
        )

    def _client_error(
        self,
        status: int,
        code: str | None,
        msg: str | None,
        request_id: str | None,
        op: _Operation,
    ) -> DmsError:
        fields: dict[str, Any] = {
            "status": status,
            "error_code": code,
            "error_msg": msg,
            "request_id": request_id,
        }
        where = f"project {op.project_id}, region {op.region}"
        if status < 400:
            # The client follows no redirects: a 3xx means the address leads somewhere other than
            # the API (http instead of https, a login portal, a proxy's page).
            return DmsUnavailableError(
                summary=f"The DMS API address answered HTTP {status} instead of the API when "
                f"asked to {op.action}.",
                hint="An admin should check DMS_ENDPOINT / DMS_REGION.",
                **fields,
            )
        if status == 401:
            uses_token = getattr(self._auth, "uses_iam_token", False)
            if code in _TOKEN_ERROR_CODES or uses_token:
                return DmsAuthError(
                    summary="Huawei Cloud rejected the bot's IAM token.",
                    hint="An admin should check DMS_IAM_USERNAME, DMS_IAM_PASSWORD and "
                    "DMS_IAM_DOMAIN, and that HUAWEICLOUD_SDK_PROJECT_ID is the project of "
                    f"region {op.region}. Nothing was changed.",
                    **fields,
                )
            return DmsAuthError(
                summary="Huawei Cloud rejected the bot's credentials.",
                hint="An admin should check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and "
                "HUAWEICLOUD_SDK_SECURITY_TOKEN if temporary credentials are used). "
                "Nothing was changed.",
                **fields,
            )
        if status == 403:
            return DmsPermissionError(
                summary=f"The bot's Huawei Cloud identity is not allowed to {op.action}.",
                hint=f"An admin should grant it the IAM action {op.iam_action} in {where} "
                "(read-only; the bot needs nothing that writes).",
                **fields,
            )
        if status == 404:
            if op.instance_id and (code == "DMS.00404022" or op.task_id is None):
                return DmsNotFoundError(
                    summary=f"Instance {op.instance_id} does not exist in {where}.",
                    hint="Check the instance id, and that the bot's HUAWEICLOUD_SDK_PROJECT_ID "
                    "and DMS_REGION (or the alias's project_id/region) are where it lives.",
                    **fields,
                )
            if op.task_id:
                return DmsNotFoundError(
                    summary=f"Task {op.task_id} was not found on instance {op.instance_label}.",
                    hint="Its record may have been deleted; list the window again.",
                    **fields,
                )
            return DmsNotFoundError(
                summary=f"Huawei Cloud found nothing when asked to {op.action}.",
                hint=f"Check that {where} is right.",
                **fields,
            )
        detail = f": {msg}" if msg else ""
        return DmsBadRequestError(
            summary=f"Huawei Cloud refused the request to {op.action} (HTTP {status}){detail}.",
            hint=_bad_request_hint(code),
            **fields,
        )


def _bad_request_hint(code: str | None) -> str:
    hints = {
        "DMS.00400061": "The instance id is not in the format DMS expects; copy it from the "
        "console (instance → Basic Information).",
        "DMS.00400142": "The time window was refused; try a shorter or more recent window.",
        "DMS.10240042": "The page size was refused; this is a bug in the bot, please report it.",
        "DMS.10240043": "The window holds more tasks than the API lets us page through; try a "
        "shorter window.",
    }
    return hints.get(code or "", "Check the instance and window; nothing was changed.")


def _segment(value: str) -> str:
    # Ids reach us from button values a client can edit: one path segment each, never more.
    return quote(value, safe="")


def _task_list_problem(body: dict[str, Any]) -> str | None:
    tasks = body.get("tasks")
    if tasks is not None and not isinstance(tasks, list):
        return '"tasks" is not a list'
    return None


def _instance_list_problem(body: dict[str, Any]) -> str | None:
    instances = body.get("instances")
    if instances is None:
        return None
    if not isinstance(instances, list):
        return '"instances" is not a list'
    if any(not isinstance(i, dict) or not i.get("instance_id") for i in instances):
        return "an instance has no instance_id"
    return None


def _newest_first_unique(pages: list[TaskPage]) -> tuple[Task, ...]:
    # Tasks shift between pages when new ones arrive while we page, so the same id can appear
    # on two pages; the first sighting (the earlier page) wins.
    seen: set[str] = set()
    unique: list[Task] = []
    for page in sorted(pages, key=lambda p: p.start):
        for task in page.tasks:
            key = task.id or f"\x00{len(unique)}"
            if key in seen:
                continue
            seen.add(key)
            unique.append(task)
    # The API's newest-first order is inferred, not documented; sort so that it is a fact here.
    # The sort is stable, so tasks without a start time keep their API order at the end.
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(unique, key=lambda t: t.created_at or floor, reverse=True))


async def _gather_all(awaitables: Any) -> list[TaskPage]:
    """Run page fetches together; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _connection_failure(exc: httpx.TransportError) -> str:
    """What a transport failure means to a reader, without Python class names."""
    if isinstance(exc, httpx.ConnectError):
        return "could not be reached (the connection was refused or the address did not resolve)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "could not be reached (it closed the connection without a complete answer)"
    if isinstance(exc, httpx.ProxyError):
        return "could not be reached through the configured proxy"
    return "could not be reached (the connection failed)"
