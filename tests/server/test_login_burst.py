"""Logins under attack, through the API: bursts, rotating X-Forwarded-For, a stranger's failures,
valid logins, trusted proxies (SQLite and PostgreSQL where the store counts)."""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import connect
from labelloop.server.app import create_app
from labelloop.settings import Settings

API = "/api/v1"
PASSWORD = "a long enough password"
PROXY = "10.9.8.7"


@contextmanager
def _app(settings: Settings, peer: str = "testclient") -> Iterator[tuple[TestClient, str]]:
    """A client of an app on ``settings`` whose requests come from ``peer``, with users admin
    and ana, and the admin's API token."""
    with TestClient(create_app(settings), client=(peer, 50000)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        admin = create_user(engine, "admin", PASSWORD, "admin")
        create_user(engine, "ana", PASSWORD, "annotator")
        yield client, create_token(engine, admin, "metrics")


def _settings(store_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=store_url, **overrides)


def _hashes(client: TestClient, token: str) -> float:
    """``labelloop_password_hashes_total``, as the metrics endpoint reports it."""
    text = client.get(f"{API}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    found = re.search(r"^labelloop_password_hashes_total (\S+)$", text, re.MULTILINE)
    assert found is not None, text[:500]
    return float(found.group(1))


def _login(client: Any, username: str, password: str, via: str | None = None) -> Any:
    headers = {"X-Forwarded-For": via} if via else {}
    body = {"username": username, "password": password}
    return client.post(f"{API}/auth/login", json=body, headers=headers)


def _at_once(n: int, call: Callable[[], int]) -> Counter[int]:
    """``call()`` from ``n`` threads released together; the status codes it returned."""
    start = threading.Barrier(n)
    codes: Counter[int] = Counter()

    def run() -> None:
        start.wait()
        codes[call()] += 1

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_a_burst_of_bad_logins_computes_at_most_the_limit_of_hashes(
    store_url: str, tmp_path: Path
) -> None:
    settings = _settings(store_url, tmp_path, login_max_failures=5)
    with _app(settings) as (client, token):
        before = _hashes(client, token)
        codes = _at_once(40, lambda: _login(client, "admin", "not the password").status_code)
        hashed = _hashes(client, token) - before
    assert set(codes) <= {401, 429} and codes[401] >= 1, codes
    assert codes[401] == hashed <= settings.login_max_failures, codes


def test_a_strangers_failures_do_not_stop_the_admin_from_another_address(
    store_url: str, tmp_path: Path
) -> None:
    settings = _settings(
        store_url,
        tmp_path,
        login_max_failures=3,
        login_backoff_max_seconds=0.05,
        trusted_proxies=(PROXY,),
    )
    with _app(settings, peer=PROXY) as (client, _token):
        stranger = "203.0.113.5"
        for _ in range(3):
            assert _login(client, "admin", "guess guess", via=stranger).status_code == 401
        refused = _login(client, "admin", PASSWORD, via=stranger)
        assert refused.status_code == 429 and "this account from this address" in refused.text
        # More strangers, each from an address of their own: none may lock the admin out.
        for n in range(6):
            _login(client, "admin", "guess guess", via=f"203.0.113.{10 + n // 3}")
        assert _login(client, "admin", PASSWORD, via="198.51.100.7").status_code == 200


def test_the_forwarded_address_counts_only_from_a_trusted_proxy(
    store_url: str, tmp_path: Path
) -> None:
    limits = {"login_max_failures": 2, "login_backoff_max_seconds": 0}
    # Not a trusted proxy: X-Forwarded-For is ignored; every guess is the peer's.
    with _app(_settings(store_url, tmp_path, **limits), peer="192.0.2.1") as (client, _token):
        codes = [_login(client, "ana", "bad", via=f"10.0.0.{n}").status_code for n in range(4)]
    assert codes == [401, 401, 429, 429]


def test_rotating_x_forwarded_for_does_not_bypass_a_real_server(
    tmp_path: Path, serve_process
) -> None:
    """``labelloop serve`` on 127.0.0.1: uvicorn must not take X-Forwarded-For from a local
    client as the client's address (it did by default)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 's.db'}")
    engine = connect(settings)
    create_user(engine, "admin", PASSWORD, "admin")
    engine.dispose()
    env = {**os.environ, "LABELLOOP_LOGIN_MAX_FAILURES": "3"}
    serving = serve_process(settings, tmp_path / "serve.log", env=env)
    with serving as (_proc, base), httpx.Client(base_url=base, timeout=30) as http:
        codes = [
            _login(http, "admin", "bad guess", via=f"198.51.100.{n}").status_code for n in range(5)
        ]
    assert codes == [401, 401, 401, 429, 429]


def test_valid_logins_from_one_address_are_limited_too(store_url: str, tmp_path: Path) -> None:
    settings = _settings(store_url, tmp_path, login_max_attempts=3)
    with _app(settings) as (client, _token):
        for name in ("ana", "admin", "ana"):
            assert _login(client, name, PASSWORD).status_code == 200
        again = _login(client, "ana", PASSWORD)
        assert again.status_code == 429 and "too many logins from this address" in again.text
        assert int(again.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_in_a_login_is_refused_naming_the_field(
    store_url: str, tmp_path: Path, field: str
) -> None:
    with _app(_settings(store_url, tmp_path)) as (client, token):
        body = {"username": "admin", "password": PASSWORD, field: "ad\x00min pass"}
        answer = client.post(f"{API}/auth/login", json=body)
        assert answer.status_code == 422 and field in answer.json()["detail"]
        minted = client.post(
            f"{API}/auth/tokens",
            json={"name": "ci\x00"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert minted.status_code == 422 and "name" in minted.json()["detail"]
