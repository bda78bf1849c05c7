"""The DMS API simulator over real loopback HTTP: auth, paging, filters, errors, faults, control
routes and deterministic data."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.simulator import (
    DEMO_AK,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    Faults,
    RunningSimulator,
    SimulatorConfig,
    SimulatorThread,
    add_cli_arguments,
    config_from_cli,
    start_simulator,
)
from tests.simfixtures import (
    FIXED_NOW,
    api_time,
    created,
    instance_id,
    signed_client,
    tasks_path,
)

BULK = 250


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(now=FIXED_NOW, bulk_tasks=BULK)) as running:
        yield running


@pytest.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_client(sim) as c:
        yield c


def orders(sim: RunningSimulator) -> str:
    return tasks_path(instance_id(sim, "prod-orders"))


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert body["error_msg"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


# -- authentication -----------------------------------------------------------------------------


async def test_signed_request_is_accepted_and_carries_a_request_id(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    response = await client.get(orders(sim))
    assert response.status_code == 200
    assert len(response.headers["X-Request-Id"]) == 32
    assert sim.stats["list_tasks"] == 1
    assert sim.stats["rejected_auth"] == 0


async def test_wrong_secret_key_is_refused_with_apigw_0301(sim: RunningSimulator) -> None:
    async with signed_client(sim, sk="not-the-secret") as c:
        assert_error(await c.get(orders(sim)), 401, "APIGW.0301")
    assert sim.stats["rejected_auth"] == 1


async def test_unknown_access_key_is_refused(sim: RunningSimulator) -> None:
    async with signed_client(sim, ak="UNKNOWNAK0000000000") as c:
        body = assert_error(await c.get(orders(sim)), 401, "APIGW.0301")
    assert "unknown" in body["error_msg"]


async def test_missing_authorization_is_refused(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        assert_error(await c.get(orders(sim)), 401, "APIGW.0301")


async def test_request_changed_after_signing_is_refused(sim: RunningSimulator) -> None:
    auth = AkSkAuth(DEMO_AK, DEMO_SK)
    request = httpx.Request("GET", sim.url + orders(sim), params={"limit": "5"})
    auth.sign(request)
    tampered = httpx.Request(
        "GET", sim.url + orders(sim), params={"limit": "50"}, headers=request.headers
    )
    async with httpx.AsyncClient() as c:
        assert_error(await c.send(tampered), 401, "APIGW.0301")
        assert (await c.send(request)).status_code == 200


async def test_signed_date_header_missing_is_refused(sim: RunningSimulator) -> None:
    auth = AkSkAuth(DEMO_AK, DEMO_SK)
    request = httpx.Request("GET", sim.url + orders(sim))
    auth.sign(request)
    del request.headers["X-Sdk-Date"]
    async with httpx.AsyncClient() as c:
        body = assert_error(await c.send(request), 401, "APIGW.0301")
    assert "X-Sdk-Date" in body["error_msg"]


@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24])
async def test_skewed_sdk_date_is_refused(sim: RunningSimulator, minutes: int) -> None:
    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(minutes=minutes)

    async with signed_client(sim, clock=clock) as c:
        body = assert_error(await c.get(orders(sim)), 401, "APIGW.0301")
    assert "15 min" in body["error_msg"]


async def test_small_clock_difference_is_tolerated(sim: RunningSimulator) -> None:
    def clock() -> datetime:
        return datetime.now(UTC) - timedelta(minutes=10)

    async with signed_client(sim, clock=clock) as c:
        assert (await c.get(orders(sim))).status_code == 200


async def test_advancing_the_simulator_clock_makes_signatures_stale(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.advance_clock(20 * 60)
    assert_error(await client.get(orders(sim)), 401, "APIGW.0301")


async def test_other_project_is_forbidden(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    other = "ffffffffffffffffffffffffffffffff"
    path = tasks_path(instance_id(sim, "prod-orders"), project_id=other)
    assert_error(await client.get(path), 403, "DMS.00403003")


async def test_security_token_required_for_temporary_credentials() -> None:
    config = SimulatorConfig(
        now=FIXED_NOW, bulk_tasks=10, security_tokens={DEMO_AK: "session-token-1"}
    )
    async with start_simulator(config) as running:
        path = orders(running)
        async with signed_client(running) as c:
            assert_error(await c.get(path), 401, "APIGW.0301")
        auth = AkSkAuth(DEMO_AK, DEMO_SK, security_token="session-token-1")
        async with httpx.AsyncClient(base_url=running.url, auth=auth) as c:
            assert (await c.get(path)).status_code == 200


# -- IAM tokens ---------------------------------------------------------------------------------


def token_body(password: str = DEMO_IAM_PASSWORD, project: dict[str, str] | None = None) -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": DEMO_IAM_USER,
                        "password": password,
                        "domain": {"name": DEMO_IAM_DOMAIN},
                    }
                },
            },
            "scope": {"project": project or {"id": DEMO_PROJECT_ID}},
        }
    }


async def issue_token(c: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return await c.post("/v3/auth/tokens", json=token_body(**kwargs))


async def test_iam_token_is_issued_and_accepted(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        issued = await issue_token(c)
        assert issued.status_code == 201
        token = issued.headers["X-Subject-Token"]
        expires = datetime.fromisoformat(
            issued.json()["token"]["expires_at"].replace("Z", "+00:00")
        )
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
        response = await c.get(orders(sim), headers={"X-Auth-Token": token})
        assert response.status_code == 200
        by_region = await issue_token(c, project={"name": DEMO_REGION})
        assert by_region.status_code == 201


async def test_wrong_iam_password_gets_no_token(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        response = await issue_token(c, password="wrong")
    assert response.status_code == 401
    assert "X-Subject-Token" not in response.headers
    assert response.json()["error"]["code"] == 401


async def test_token_for_another_project_is_not_issued(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        response = await issue_token(c, project={"id": "ffffffffffffffffffffffffffffffff"})
    assert response.status_code == 401


async def test_unknown_expired_and_revoked_tokens_are_refused() -> None:
    config = SimulatorConfig(now=FIXED_NOW, bulk_tasks=10, token_ttl_s=600)
    async with start_simulator(config) as running, httpx.AsyncClient(base_url=running.url) as c:
        path = orders(running)
        assert_error(await c.get(path, headers={"X-Auth-Token": "MIIforged"}), 401, "DMS.10240101")
        token = (await issue_token(c)).headers["X-Subject-Token"]
        assert (await c.get(path, headers={"X-Auth-Token": token})).status_code == 200
        running.advance_clock(601)
        assert_error(await c.get(path, headers={"X-Auth-Token": token}), 401, "DMS.10240102")
        fresh = (await issue_token(c)).headers["X-Subject-Token"]
        assert (await c.get(path, headers={"X-Auth-Token": fresh})).status_code == 200
        assert (await c.post("/_sim/revoke-tokens")).status_code == 200
        assert_error(await c.get(path, headers={"X-Auth-Token": fresh}), 401, "DMS.10240101")


async def test_token_used_on_another_project_is_refused(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        token = (await issue_token(c)).headers["X-Subject-Token"]
        path = tasks_path(instance_id(sim, "prod-orders"), "ffffffffffffffffffffffffffffffff")
        assert_error(await c.get(path, headers={"X-Auth-Token": token}), 401, "DMS.10240104")


# -- listing tasks ------------------------------------------------------------------------------


async def fetch_all(c: httpx.AsyncClient, path: str, limit: int, **params: str) -> list[dict]:
    tasks: list[dict] = []
    start = 1
    while True:
        response = await c.get(path, params={"start": start, "limit": limit, **params})
        assert response.status_code == 200
        page = response.json()
        assert isinstance(page["task_count"], str)
        tasks += page["tasks"]
        start += len(page["tasks"])
        if not page["tasks"] or start > int(page["task_count"]):
            return tasks


async def test_pages_are_one_based_and_cover_every_task_newest_first(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    inst = sim.instance("prod-orders")
    everything = await fetch_all(client, orders(sim), 100)
    assert [t["id"] for t in everything] == [t["id"] for t in inst.tasks]
    assert len(everything) == len({t["id"] for t in everything}) > 300
    stamps = [created(t) for t in everything]
    assert stamps == sorted(stamps, reverse=True)
    small = await fetch_all(client, orders(sim), 7)
    assert [t["id"] for t in small] == [t["id"] for t in everything]


async def test_second_page_starts_at_position_limit_plus_one(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    first = (await client.get(orders(sim), params={"start": 1, "limit": 10})).json()
    second = (await client.get(orders(sim), params={"start": 11, "limit": 10})).json()
    overlap = (await client.get(orders(sim), params={"start": 2, "limit": 1})).json()
    assert overlap["tasks"][0]["id"] == first["tasks"][1]["id"]
    assert second["tasks"][0]["id"] == sim.instance("prod-orders").tasks[10]["id"]
    total = len(sim.instance("prod-orders").tasks)
    assert first["task_count"] == second["task_count"] == str(total)


async def test_defaults_are_start_1_and_limit_10(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    body = (await client.get(orders(sim))).json()
    assert [t["id"] for t in body["tasks"]] == [
        t["id"] for t in sim.instance("prod-orders").tasks[:10]
    ]


async def test_start_past_the_end_is_an_empty_page_with_the_total(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    total = len(sim.instance("prod-orders").tasks)
    body = (await client.get(orders(sim), params={"start": total + 1})).json()
    assert body == {"task_count": str(total), "tasks": []}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "DMS.00400062"),
        ({"limit": "101"}, "DMS.10240042"),
        ({"limit": "ten"}, "DMS.00400062"),
        ({"start": "0"}, "DMS.00400062"),
        ({"start": "-3"}, "DMS.00400062"),
    ],
)
async def test_out_of_range_paging_is_a_400(
    sim: RunningSimulator, client: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    assert_error(await client.get(orders(sim), params=params), 400, code)


async def test_limit_bounds_are_inclusive(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    assert len((await client.get(orders(sim), params={"limit": 1})).json()["tasks"]) == 1
    assert len((await client.get(orders(sim), params={"limit": 100})).json()["tasks"]) == 100


async def test_time_window_filters_on_created_at(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    inst = sim.instance("bulk-audit")
    path = tasks_path(inst.instance_id)
    begin = FIXED_NOW - timedelta(days=3, minutes=7)
    end = FIXED_NOW - timedelta(days=1, minutes=3)
    expected = [t["id"] for t in inst.tasks if begin <= created(t) < end]
    assert 0 < len(expected) < len(inst.tasks)
    got = await fetch_all(client, path, 100, begin_time=api_time(begin), end_time=api_time(end))
    assert [t["id"] for t in got] == expected
    only_begin = await fetch_all(client, path, 100, begin_time=api_time(begin))
    assert [t["id"] for t in only_begin] == [t["id"] for t in inst.tasks if begin <= created(t)]
    only_end = await fetch_all(client, path, 100, end_time=api_time(end))
    assert [t["id"] for t in only_end] == [t["id"] for t in inst.tasks if created(t) < end]


async def test_window_total_counts_only_matching_tasks(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    inst = sim.instance("prod-orders")
    begin = FIXED_NOW - timedelta(hours=24)
    body = (
        await client.get(orders(sim), params={"begin_time": api_time(begin), "limit": 2})
    ).json()
    assert body["task_count"] == str(sum(1 for t in inst.tasks if created(t) >= begin))
    empty = (
        await client.get(
            orders(sim), params={"begin_time": api_time(FIXED_NOW + timedelta(days=1))}
        )
    ).json()
    assert empty == {"task_count": "0", "tasks": []}


@pytest.mark.parametrize(
    "value", ["2025-03-14", "20250314", "20251314000000", "2025031412000x", "1741953600000"]
)
async def test_malformed_time_is_a_400(
    sim: RunningSimulator, client: httpx.AsyncClient, value: str
) -> None:
    assert_error(await client.get(orders(sim), params={"begin_time": value}), 400, "DMS.00400142")
    assert_error(await client.get(orders(sim), params={"end_time": value}), 400, "DMS.00400142")


async def test_unknown_instance_is_404_dms_00404022(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    path = tasks_path("3f9a1c52-0000-4000-8000-000000000000")
    assert_error(await client.get(path), 404, "DMS.00404022")


async def test_instance_id_that_is_no_uuid_is_400(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    assert_error(await client.get(tasks_path("prod-orders")), 400, "DMS.00400061")


# -- one task -----------------------------------------------------------------------------------


async def test_show_task_returns_it_with_count_one(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    task = sim.instance("prod-orders").tasks[5]
    body = (await client.get(f"{orders(sim)}/{task['id']}")).json()
    assert body == {"task_count": "1", "tasks": [task]}
    assert_error(await client.get(f"{orders(sim)}/{'0' * 32}"), 404, "DMS.00404023")


async def test_only_finished_tasks_can_be_deleted(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    inst = sim.instance("prod-orders")
    done = next(t for t in inst.tasks if t["status"] == "SUCCESS")
    running = next(t for t in inst.tasks if t["status"] == "EXECUTING")
    total = len(inst.tasks)
    deleted = await client.delete(f"{orders(sim)}/{done['id']}")
    assert deleted.status_code == 204
    assert "X-Request-Id" in deleted.headers
    assert_error(await client.get(f"{orders(sim)}/{done['id']}"), 404, "DMS.00404023")
    assert (await client.get(orders(sim))).json()["task_count"] == str(total - 1)
    assert_error(await client.delete(f"{orders(sim)}/{running['id']}"), 400, "DMS.00400062")
    assert sim.stats["delete_task"] == 2


async def test_progress_of_running_storage_expansion(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    inst = sim.instance("prod-orders")
    running = next(t for t in inst.tasks if t["status"] == "EXECUTING")
    body = (await client.get(f"{orders(sim)}/{running['id']}/progress")).json()
    assert 0 <= body["progress_percentage"] < 100
    assert body["remain_time"] > 0
    assert [s["statue"] for s in body["step_list"]].count("EXECUTING") == 1
    done = next(t for t in inst.tasks if t["status"] == "SUCCESS")
    finished = (await client.get(f"{orders(sim)}/{done['id']}/progress")).json()
    assert finished["progress_percentage"] == 100 and finished["remain_time"] == 0
    assert sim.stats["task_progress"] == 2


# -- instances ----------------------------------------------------------------------------------


async def list_instances(c: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await c.get(f"/v2/{DEMO_PROJECT_ID}/instances", params={"engine": "kafka", **params})


async def test_instance_name_is_a_fuzzy_match_unless_exact(client: httpx.AsyncClient) -> None:
    fuzzy = (await list_instances(client, name="orders")).json()
    assert sorted(i["name"] for i in fuzzy["instances"]) == ["prod-orders", "prod-orders-dr"]
    assert fuzzy["instance_num"] == 2
    exact = (await list_instances(client, name="prod-orders", exact_match_name="true")).json()
    assert [i["name"] for i in exact["instances"]] == ["prod-orders"]
    assert exact["instance_num"] == 1


async def test_instance_listing_shape_and_paging(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    body = (await list_instances(client, limit="50")).json()
    assert body["instance_num"] == len(sim.instances) == len(body["instances"])
    for inst in body["instances"]:
        assert inst["engine"] == "kafka"
        assert inst["created_at"].isdigit()
        assert datetime.fromtimestamp(int(inst["created_at"]) / 1000, UTC) < FIXED_NOW
    first = (await list_instances(client, offset="0", limit="4")).json()
    rest = (await list_instances(client, offset="4", limit="4")).json()
    names = [i["name"] for i in first["instances"] + rest["instances"]]
    assert names == [i["name"] for i in body["instances"]]
    assert first["instance_num"] == len(sim.instances)
    assert_error(await list_instances(client, limit="51"), 400, "DMS.10240042")
    assert_error(await list_instances(client, limit="0"), 400, "DMS.00400062")


async def test_instance_lookup_by_id_and_status(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    wanted = instance_id(sim, "prod-billing")
    by_id = (await list_instances(client, instance_id=wanted)).json()
    assert [i["name"] for i in by_id["instances"]] == ["prod-billing"]
    extending = (await list_instances(client, status="EXTENDING")).json()
    assert [i["name"] for i in extending["instances"]] == ["prod-orders"]
    other_engine = (await list_instances(client, engine="rabbitmq")).json()
    assert other_engine == {"instances": [], "instance_num": 0}
    assert sim.stats["list_instances"] == 3


# -- faults -------------------------------------------------------------------------------------


async def test_throttle_answers_429_with_retry_after_then_recovers(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_faults(Faults(throttle_first=2, retry_after_s=0))
    for _ in range(2):
        response = await client.get(orders(sim))
        assert_error(response, 429, "APIGW.0308")
        assert response.headers["Retry-After"] == "0"
    assert (await client.get(orders(sim))).status_code == 200
    assert sim.stats["list_tasks"] == 3


async def test_error_first_answers_500(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    sim.set_faults(Faults(error_first=1))
    assert_error(await client.get(orders(sim)), 500, "DMS.00500000")
    assert (await client.get(orders(sim))).status_code == 200


async def test_malformed_body_is_truncated_json(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_faults(Faults(malformed_first=1))
    response = await client.get(orders(sim))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.text.startswith('{"task_count"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert (await client.get(orders(sim))).json()["tasks"]


async def test_drop_closes_the_connection_without_an_answer(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_faults(Faults(drop_first=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(orders(sim))
    assert (await client.get(orders(sim))).status_code == 200
    assert sim.stats["fault_drop"] == 1


async def test_faults_apply_in_order_drop_throttle_error_malformed(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_faults(Faults(drop_first=1, throttle_first=1, error_first=1, malformed_first=1))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(orders(sim))
    assert (await client.get(orders(sim))).status_code == 429
    assert (await client.get(orders(sim))).status_code == 500
    malformed = await client.get(orders(sim))
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.text)
    assert (await client.get(orders(sim))).status_code == 200


async def test_error_rate_one_fails_everything_and_zero_nothing(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_faults(Faults(error_rate=1.0))
    for _ in range(3):
        assert_error(await client.get(orders(sim)), 500, "DMS.00500000")
    sim.set_faults(Faults())
    assert (await client.get(orders(sim))).status_code == 200


async def test_error_rate_follows_the_seed() -> None:
    async def outcomes() -> list[int]:
        config = SimulatorConfig(now=FIXED_NOW, bulk_tasks=10, faults=Faults(error_rate=0.5))
        async with start_simulator(config) as running, signed_client(running) as c:
            return [(await c.get(orders(running))).status_code for _ in range(16)]

    first, second = await outcomes(), await outcomes()
    assert first == second
    assert set(first) == {200, 500}


async def test_latency_still_answers(sim: RunningSimulator, client: httpx.AsyncClient) -> None:
    sim.set_faults(Faults(latency_ms=20, throttle_first=1))
    assert (await client.get(orders(sim))).status_code == 429
    assert (await client.get(orders(sim))).status_code == 200


async def test_faults_spare_the_control_routes(sim: RunningSimulator) -> None:
    sim.set_faults(Faults(drop_first=5, error_first=5))
    async with httpx.AsyncClient(base_url=sim.url) as c:
        assert (await c.get("/_sim/stats")).status_code == 200
        assert (await c.get("/_sim/instances")).status_code == 200
        state = (await c.get("/_sim/faults")).json()
    assert state["remaining"]["drop_first"] == 5


async def test_faults_come_before_the_signature_check(
    sim: RunningSimulator,
) -> None:
    sim.set_faults(Faults(error_first=1))
    async with signed_client(sim, sk="wrong") as c:
        assert_error(await c.get(orders(sim)), 500, "DMS.00500000")
        assert_error(await c.get(orders(sim)), 401, "APIGW.0301")


# -- control routes -----------------------------------------------------------------------------


async def test_control_routes_steer_a_running_server(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        listed = (await control.get("/_sim/instances")).json()
        assert {i["name"] for i in listed} >= {
            "prod-orders",
            "prod-orders-dr",
            "prod-billing",
            "staging-events",
            "bulk-audit",
            "edge-cases",
        }
        assert all(i["instance_id"] == instance_id(sim, i["name"]) for i in listed)
        set_to = await control.post("/_sim/faults", json={"error_first": 1, "retry_after_s": 3})
        assert set_to.status_code == 200
        assert sim.faults == Faults(error_first=1, retry_after_s=3)
        assert (await client.get(orders(sim))).status_code == 500
        assert (await client.get(orders(sim))).status_code == 200
        stats = (await control.get("/_sim/stats")).json()
        assert stats["list_tasks"] == 2 and stats["fault_error"] == 1
        assert (await control.post("/_sim/reset")).status_code == 200
        assert (await control.get("/_sim/stats")).json() == {}
        assert sim.stats["list_tasks"] == 0


@pytest.mark.parametrize(
    "body", ['{"drop_first": -1}', '{"nonsense": 1}', '{"error_rate": 2}', "[1]", "not json"]
)
async def test_bad_fault_settings_are_refused(sim: RunningSimulator, body: str) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        response = await control.post("/_sim/faults", content=body)
    assert response.status_code == 400
    assert sim.faults == Faults()


async def test_unknown_route_answers_in_the_gateway_shape(sim: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        assert_error(await c.get("/v2/nothing-here"), 404, "APIGW.0101")


# -- data ---------------------------------------------------------------------------------------


async def test_same_seed_and_anchor_give_the_same_data() -> None:
    config = SimulatorConfig(now=FIXED_NOW, bulk_tasks=BULK)
    async with start_simulator(config) as one, start_simulator(config) as two:
        assert [(i.instance_id, i.name, i.tasks) for i in one.instances] == [
            (i.instance_id, i.name, i.tasks) for i in two.instances
        ]
        async with signed_client(one) as c1, signed_client(two) as c2:
            body1 = (await c1.get(orders(one), params={"limit": 100})).json()
            body2 = (await c2.get(orders(two), params={"limit": 100})).json()
        assert body1 == body2
    async with start_simulator(SimulatorConfig(now=FIXED_NOW, bulk_tasks=BULK, seed=8)) as other:
        assert other.instance("prod-orders").tasks != one.instance("prod-orders").tasks


async def test_bulk_size_changes_only_the_busy_instance() -> None:
    async with (
        start_simulator(SimulatorConfig(now=FIXED_NOW, bulk_tasks=10)) as small,
        start_simulator(SimulatorConfig(now=FIXED_NOW, bulk_tasks=40)) as large,
    ):
        assert len(small.instance("bulk-audit").tasks) == 10
        assert len(large.instance("bulk-audit").tasks) == 40
        for name in ("prod-orders", "prod-billing", "edge-cases"):
            assert small.instance(name).tasks == large.instance(name).tasks


def test_prod_orders_looks_like_a_busy_production_instance(sim: RunningSimulator) -> None:
    tasks = sim.instance("prod-orders").tasks
    assert 300 <= len(tasks) < 1000
    assert all(FIXED_NOW - timedelta(days=14) <= created(t) <= FIXED_NOW for t in tasks)
    statuses = [t["status"] for t in tasks]
    assert statuses.count("FAILED") >= 3
    running = [t for t in tasks if t["status"] == "EXECUTING"]
    assert len(running) == 1 and running[0]["name"] == "extendStorage"
    assert (
        timedelta(hours=2, minutes=55)
        < FIXED_NOW - created(running[0])
        < timedelta(hours=3, minutes=5)
    )
    fresh = [t for t in tasks if t["status"] == "CREATED"]
    assert len(fresh) == 1 and FIXED_NOW - created(fresh[0]) < timedelta(minutes=5)
    users = {t["user_name"] for t in tasks}
    assert "paas_dms" in users and len(users) > 2
    assert sum(1 for t in tasks if t["user_name"] == "paas_dms") > len(tasks) / 2
    storage = [t for t in tasks if t["name"] == "extendStorage" and t["status"] == "SUCCESS"]
    assert len(storage) >= 3


def test_timestamps_are_iso_utc_and_durations_realistic(sim: RunningSimulator) -> None:
    for inst in sim.instances:
        if inst.name == "edge-cases":
            continue
        for t in inst.tasks:
            assert t["created_at"].endswith("Z") and len(t["created_at"]) == 24
            duration = created({"created_at": t["updated_at"]}) - created(t)
            assert timedelta(0) <= duration <= timedelta(hours=1)
            assert created({"created_at": t["updated_at"]}) <= FIXED_NOW
            assert len(t["id"]) == 32


def test_params_carry_realistic_shapes(sim: RunningSimulator) -> None:
    every = [t for i in sim.instances if i.name != "edge-cases" for t in i.tasks]
    decoded = [json.loads(t["params"]) for t in every if t["params"]]
    keys = {k for p in decoded for k in p}
    assert {"old_auto_status", "new_auto_status", "group", "topic"} <= keys
    assert {"origin_storage_space", "new_storage_space"} <= keys
    text = " ".join(t["params"] for t in every)
    for secret_key in ("sasl_plain_password", "secret_key", "access_key", "new_password"):
        assert secret_key in text
    names = {t["name"] for t in every}
    assert {"modifyAutoTopic", "kafkaResetConsumerOffset", "kafkaClientQuotaCreate"} <= names


def test_bulk_audit_spreads_its_tasks_over_a_week(sim: RunningSimulator) -> None:
    tasks = sim.instance("bulk-audit").tasks
    assert len(tasks) == BULK
    ages = [FIXED_NOW - created(t) for t in tasks]
    assert max(ages) <= timedelta(days=7, hours=1)
    assert max(ages) > timedelta(days=5) and min(ages) < timedelta(days=1)


def test_edge_cases_hold_adversarial_records(sim: RunningSimulator) -> None:
    tasks = sim.instance("edge-cases").tasks
    names = [t["name"] for t in tasks]
    params = [t["params"] for t in tasks]
    users = [t["user_name"] for t in tasks]
    assert any(len(n) == 200 for n in names)
    assert any(not n.isascii() for n in names)
    assert any("🚀" in u for u in users)
    assert "<!channel>" in users
    assert any("&" in u for u in users)
    assert any(len(p) >= 50 * 1024 for p in params)
    assert "" in params and "not json" in params
    assert any(p.startswith("[") for p in params)
    assert any("<https://evil" in p for p in params)
    assert "ROLLING_BACK" in [t["status"] for t in tasks]
    assert any(len(t["created_at"]) == 20 for t in tasks)
    assert any("updated_at" not in t for t in tasks)
    deep = next(json.loads(p) for p in params if "level_0" in p)
    depth = 0
    while isinstance(deep, dict) and any(k.startswith("level_") for k in deep):
        deep = next(v for k, v in deep.items() if k.startswith("level_"))
        depth += 1
    assert depth >= 10 and "sasl_plain_password" in deep


async def test_edge_cases_survive_the_wire(
    sim: RunningSimulator, client: httpx.AsyncClient
) -> None:
    path = tasks_path(instance_id(sim, "edge-cases"))
    got = await fetch_all(client, path, 100)
    assert got == sim.instance("edge-cases").tasks


# -- thread runner and CLI ----------------------------------------------------------------------


def test_simulator_thread_serves_sync_callers_and_takes_faults_from_another_thread() -> None:
    with SimulatorThread(SimulatorConfig(now=FIXED_NOW, bulk_tasks=10)) as running:
        auth = AkSkAuth(DEMO_AK, DEMO_SK)
        with httpx.Client(base_url=running.url, auth=auth) as c:
            assert c.get(orders(running)).status_code == 200
            setter = threading.Thread(target=running.set_faults, args=(Faults(error_first=1),))
            setter.start()
            setter.join()
            assert c.get(orders(running)).status_code == 500
            assert c.get(orders(running)).status_code == 200
        assert running.stats["list_tasks"] == 3
        running.reset_stats()
        assert running.stats["list_tasks"] == 0
    with httpx.Client() as c, pytest.raises(httpx.ConnectError):
        c.get(running.url + "/_sim/stats")


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_flags_win_over_environment_values() -> None:
    ns = parse_cli(
        "--ak", "FLAGAK", "--sk", "flagsk", "--project-id", "p1", "--throttle-first", "2"
    )
    config = config_from_cli(ns, "ENVAK", "envsk", "p-env")
    assert config.credentials == {"FLAGAK": "flagsk"}
    assert config.project_id == "p1"
    assert config.faults == Faults(throttle_first=2)


def test_cli_falls_back_to_environment_then_demo_credentials() -> None:
    from_env = config_from_cli(parse_cli(), "ENVAK", "envsk", "p-env")
    assert from_env.credentials == {"ENVAK": "envsk"} and from_env.project_id == "p-env"
    demo = config_from_cli(parse_cli("--error-rate", "0.25", "--seed", "3"), None, None, None)
    assert demo.credentials == {DEMO_AK: DEMO_SK} and demo.project_id == DEMO_PROJECT_ID
    assert demo.faults.error_rate == 0.25 and demo.seed == 3


def test_config_repr_hides_secrets() -> None:
    config = SimulatorConfig(credentials={"AK1": "very-secret"})
    assert "very-secret" not in repr(config)
    assert DEMO_IAM_PASSWORD not in repr(config)


async def test_separate_process_is_steered_through_control_routes() -> None:
    script = (
        "import asyncio\n"
        "from datetime import datetime\n"
        "from bot.simulator import SimulatorConfig, serve_forever\n"
        f"config = SimulatorConfig(now=datetime.fromisoformat({FIXED_NOW.isoformat()!r}),"
        " bulk_tasks=10)\n"
        "asyncio.run(serve_forever(config, '127.0.0.1', 0))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as control:
            listed = (await control.get("/_sim/instances")).json()
            orders_id = next(i["instance_id"] for i in listed if i["name"] == "prod-orders")
            assert (await control.post("/_sim/faults", json={"error_first": 1})).status_code == 200
            async with httpx.AsyncClient(base_url=url, auth=AkSkAuth(DEMO_AK, DEMO_SK)) as api:
                assert (await api.get(tasks_path(orders_id))).status_code == 500
                assert (await api.get(tasks_path(orders_id))).status_code == 200
            assert (await control.get("/_sim/stats")).json()["list_tasks"] == 2
    finally:
        proc.terminate()
        await proc.wait()
