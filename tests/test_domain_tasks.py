"""Task records as the real API sends them: times in every shape seen, and statuses beyond the
documented six."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.tasks import Task, is_finished, parse_api_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-05-15T03:19:51.046Z", datetime(2020, 5, 15, 3, 19, 51, 46000, tzinfo=UTC)),
        ("2020-05-15T03:19:51Z", datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)),
        ("2020-05-15T05:19:51+02:00", datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)),
        ("2020-05-15 03:19:51", datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)),
        # The API's own query format: not epoch milliseconds (that would be the year 2603).
        ("20200515031951", datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)),
        (" 20200515031951 ", datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)),
        ("1589512791046", datetime(2020, 5, 15, 3, 19, 51, 46000, tzinfo=UTC)),
        (1589512791046, datetime(2020, 5, 15, 3, 19, 51, 46000, tzinfo=UTC)),
        ("20201345000000", None),  # 14 digits that are no date
        ("99999999999999999999999", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_times_in_every_shape_the_api_sends(value: object, expected: datetime | None) -> None:
    assert parse_api_time(value) == expected


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ("SUCCESS", True),
        ("failed", True),
        ("CANCELLED", True),
        ("DELETED", True),
        ("EXECUTING", False),
        ("CREATED", False),
        ("ROLLING_BACK", False),
        ("", False),
    ],
)
def test_only_known_final_statuses_are_finished(status: str, finished: bool) -> None:
    assert is_finished(status) is finished
    assert Task.model_validate({"status": status}).is_active is not finished
