"""Which slice of the task list a request asks for, under each way the gateway may read the
paging arguments (config.PAGING_MODES)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.simulator.queryargs import int_param

MAX_TASK_PAGE = 100
DEFAULT_TASK_PAGE = 10
# What a "clamp50" gateway returns at most, whatever limit the caller asked for.
CLAMPED_PAGE = 50


def task_page(query: Mapping[str, str], mode: str) -> tuple[int, int]:
    """(0-based index of the first record, how many records) for a task-list request.

    Bad values are refused as the API documents whatever the mode: a position below its base or
    a limit below 1 is DMS.00400062, a limit above 100 DMS.10240042. The argument a mode does not
    read is ignored outright, bad value or not, as a gateway that does not know it would."""
    if mode == "offset":
        first = int_param(query, "offset", 0, low=0, high=None)
    else:
        first = int_param(query, "start", 1, low=1, high=None) - 1
    limit = int_param(query, "limit", DEFAULT_TASK_PAGE, low=1, high=MAX_TASK_PAGE)
    if mode == "clamp50":
        limit = min(limit, CLAMPED_PAGE)
    return first, limit
