"""Human words for DMS task names and statuses: the one place they are defined.

DMS publishes no list of task names. The first entries of the table are names seen in API
responses and the official SDK's examples; the rest follow the tasks the console lists. Any other
name is split into words, so a new task type still reads well.
"""

from __future__ import annotations

import unicodedata

from bot.domain.tasks import TaskStatus

TASK_LABELS: dict[str, str] = {
    # Seen in API responses.
    "modifyAutoTopic": "Modify auto topic creation",
    "changeRetentionPolicy": "Change retention policy",
    "bindInstancePublicIp": "Enable public access",
    "unbindInstancePublicIp": "Disable public access",
    "kafkaConfigModify": "Modify config",
    "kafkaResetConsumerOffset": "Reset consumer offset",
    "kafkaClientQuotaCreate": "Create client quota",
    "kafkaClientQuotaModify": "Modify client quota",
    "kafkaClientQuotaDelete": "Delete client quota",
    # Console task types.
    "createInstance": "Create instance",
    "restartInstance": "Restart instance",
    "deleteInstance": "Delete instance",
    "extendStorage": "Expand broker storage",
    "extendBroker": "Add brokers",
    "extendBandwidth": "Increase bandwidth",
    "resizeFlavor": "Change flavor",
    "modifyInstanceConfigs": "Modify parameters",
    "modifyCapacityThresholdPolicy": "Change capacity threshold policy",
    "enableSsl": "Enable SSL",
    "disableSsl": "Disable SSL",
    "enableSmartConnect": "Enable Smart Connect",
    "disableSmartConnect": "Disable Smart Connect",
    "partitionReassign": "Reassign partitions",
    "modifyTopicAccessPolicy": "Change topic permissions",
}

UNNAMED_TASK = "(unnamed task)"

# Words that stay upper-case when an unknown name is split.
_ACRONYMS = frozenset({"ip", "ssl", "sasl", "acl", "eip", "vpc", "dns", "id", "api", "tls"})


def _kind(char: str) -> str:
    if char.isdigit():
        return "digit"
    if char.isupper():
        return "upper"
    if char.isalpha() or unicodedata.category(char).startswith("M"):
        return "lower"
    return "gap"


def split_words(name: str) -> list[str]:
    """Split an identifier into words: at anything that is not a letter or digit, at camelCase
    steps (`bindPublicIp`), before the last capital of a run followed by lower case (`APIKey` ->
    `API`, `Key`) and between letters and digits. Works for any script."""
    words: list[str] = []
    current = ""
    previous = "gap"
    for index, char in enumerate(name):
        kind = _kind(char)
        if kind == "gap":
            if current:
                words.append(current)
            current, previous = "", "gap"
            continue
        following = _kind(name[index + 1]) if index + 1 < len(name) else "gap"
        # A capital run ending in a lone "s" is a plural acronym (`AZs`, `IPs`), not a new word.
        plural = name[index + 1 : index + 2] == "s" and (
            index + 2 >= len(name) or _kind(name[index + 2]) != "lower"
        )
        boundary = current and (
            (previous == "lower" and kind == "upper")
            or (previous == "digit") != (kind == "digit")
            or (previous == "upper" and kind == "upper" and following == "lower" and not plural)
        )
        if boundary:
            words.append(current)
            current = ""
        current += char
        previous = kind
    if current:
        words.append(current)
    return words


def _spoken(word: str) -> str:
    if word.lower() in _ACRONYMS:
        return word.upper()
    if len(word) > 2 and word.endswith("s") and word[:-1].isupper():
        return word  # a plural acronym: AZs, IPs
    return word.lower()


def task_label(name: str) -> str:
    """The table's label; otherwise the name split into words, without a leading "kafka"."""
    name = name.strip()
    if not name:
        return UNNAMED_TASK
    if name in TASK_LABELS:
        return TASK_LABELS[name]
    words = split_words(name)
    if len(words) > 1 and words[0].lower() == "kafka":
        words = words[1:]
    if not words:
        return name
    spoken = [_spoken(w) for w in words]
    first = spoken[0]
    spoken[0] = first[:1].upper() + first[1:]
    return " ".join(spoken)


STATUS_EMOJI: dict[str, str] = {
    TaskStatus.SUCCESS: "✅",
    TaskStatus.FAILED: "❌",
    TaskStatus.EXECUTING: "⏳",
    TaskStatus.CREATED: "🕓",
    # Not the bin of DELETED: a reader must tell a cancelled task from a deleted record.
    TaskStatus.CANCELLED: "🚫",
    TaskStatus.DELETED: "🗑",
}
UNKNOWN_STATUS_EMOJI = "❔"

STATUS_WORDS: dict[str, str] = {
    TaskStatus.SUCCESS: "succeeded",
    TaskStatus.FAILED: "failed",
    TaskStatus.EXECUTING: "running",
    TaskStatus.CREATED: "queued",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.DELETED: "deleted",
}

# The order counts are listed in: the ux sketch's, outcomes first, then the rest.
STATUS_ORDER: tuple[str, ...] = (
    TaskStatus.SUCCESS,
    TaskStatus.FAILED,
    TaskStatus.EXECUTING,
    TaskStatus.CREATED,
    TaskStatus.CANCELLED,
    TaskStatus.DELETED,
)


def status_emoji(status: str) -> str:
    """An undocumented status is not known to be final: it shows as in progress. A missing one
    shows as unknown."""
    key = status.strip().upper()
    if not key:
        return UNKNOWN_STATUS_EMOJI
    return STATUS_EMOJI.get(key, STATUS_EMOJI[TaskStatus.EXECUTING])


def status_word(status: str) -> str:
    """ "failed", "running", ...; an unknown status lower-cased; an empty one "unknown"."""
    key = status.strip().upper()
    return STATUS_WORDS.get(key) or key.lower() or "unknown"
