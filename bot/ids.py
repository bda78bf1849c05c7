"""Every Slack action_id and block_id prefix the bot uses, in one place.

Ids are made unique within a message by suffixing ":<n>" (stricter than Slack's per-block rule,
and it keeps routing unambiguous); handlers match on the prefix.
"""

from __future__ import annotations

import re
from enum import StrEnum


class ActionId(StrEnum):
    PARAMS = "dms_task_params"
    PREV = "dms_page_prev"
    NEXT = "dms_page_next"
    REFRESH = "dms_refresh"
    SHARE = "dms_share"
    SHOW_PROBLEMS = "dms_show_problems"
    BACK = "dms_back_to_list"
    PICK_INSTANCE = "dms_pick_instance"
    OPEN_LIST = "dms_open_list"
    WATCH = "dms_watch"
    WATCH_STOP = "dms_watch_stop"

    def unique(self, n: int | str) -> str:
        return f"{self.value}:{n}"

    @classmethod
    def parse(cls, action_id: str) -> ActionId | None:
        """The action behind an id made unique with `unique`; None for ids that are not ours."""
        try:
            return cls(action_id.split(":", 1)[0])
        except ValueError:
            return None

    def pattern(self) -> re.Pattern[str]:
        """Matches this action's ids, with or without the ":<n>" suffix."""
        return re.compile(rf"^{re.escape(self.value)}(:.*)?$")


class BlockId(StrEnum):
    HEADER = "dms_header"
    COUNTS = "dms_counts"
    TASK = "dms_task"
    TASK_ACTIONS = "dms_task_actions"
    PAGER = "dms_pager"
    FOOTER = "dms_footer"
    PARAMS = "dms_params"
    NOTICE = "dms_notice"
    DIGEST = "dms_digest"
    WATCH = "dms_watch"
    WATCH_ACTIONS = "dms_watch_actions"

    def unique(self, n: int | str) -> str:
        return f"{self.value}:{n}"
