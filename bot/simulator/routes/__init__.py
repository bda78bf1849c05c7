"""The simulator's HTTP routes, one module per API: tasks, instances, IAM tokens, and the
/_sim control routes tests and scripts steer it with."""

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Path variables take any text but "/" (aiohttp's default also refuses braces), so odd ids reach
# the handlers and get the API's own answers.
INSTANCES_PATH = "/v2/{project_id:[^/]+}/instances"
TASKS_PATH = INSTANCES_PATH + "/{instance_id:[^/]+}/tasks"
TASK_PATH = TASKS_PATH + "/{task_id:[^/]+}"
