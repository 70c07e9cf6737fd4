"""Attack surface: bodies and uploads over their limits (413), login rate limiting (429 with
Retry-After), and denied attempts in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelloop.accounts.users import create_token, create_user
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store import tables as t

API = "/api/v1"
PASSWORD = "a long enough password"


@pytest.fixture
def tight(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Settings, dict]]:
    """An app with small limits: 1 KiB bodies, 1 MiB uploads, 3 failed logins per 900 s."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=store_url,
        max_body_kb=1,
        max_upload_mb=1,
        login_max_failures=3,
        login_window_seconds=900,
    )
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        tokens = {}
        for role in ("admin", "annotator"):
            tokens[role] = create_token(engine, create_user(engine, role, PASSWORD, role), "t")
        client.post(
            f"{API}/projects",
            json={"name": "demo", "labels": ["a", "b"]},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        ).raise_for_status()
        yield client, settings, tokens


def _auth(tokens: dict, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _events(client: TestClient, action: str) -> list:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return list(conn.execute(select(t.events).where(t.events.c.action == action)).all())


def _uploads(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_json_body_over_the_limit_is_413_naming_the_limit(tight) -> None:
    client, _settings, tokens = tight
    big = {"text": "x" * 2000}
    answer = client.put(f"{API}/projects/demo/guidelines", json=big, headers=_auth(tokens))
    assert answer.status_code == 413
    assert "1 KiB" in answer.json()["detail"] and "LABELLOOP_MAX_BODY_KB" in answer.json()["detail"]
    small = client.put(
        f"{API}/projects/demo/guidelines", json={"text": "ok"}, headers=_auth(tokens)
    )
    assert small.status_code == 200


def test_chunked_json_body_is_cut_off_at_the_limit(tight) -> None:
    client, _settings, tokens = tight

    def chunks() -> Iterator[bytes]:
        body = json.dumps({"text": "y" * 5000}).encode()
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    answer = client.put(
        f"{API}/projects/demo/guidelines",
        content=chunks(),
        headers={**_auth(tokens), "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413
    assert "LABELLOOP_MAX_BODY_KB" in answer.json()["detail"]


def test_upload_over_the_limit_is_413_and_leaves_no_file(tight) -> None:
    client, settings, tokens = tight
    url = f"{API}/projects/demo/imports"
    # Over the file limit but within the multipart slack: the route stops while writing it.
    just_over = b'{"id": 1, "text": "a"}\n' * ((1 << 20) // 23 + 100)
    answer = client.post(url, files={"file": ("x.jsonl", just_over)}, headers=_auth(tokens))
    assert answer.status_code == 413
    assert (
        "1 MiB" in answer.json()["detail"] and "LABELLOOP_MAX_UPLOAD_MB" in answer.json()["detail"]
    )
    assert _uploads(settings) == []
    # Far over: refused on its Content-Length, before any of it is read.
    far_over = b"z" * (3 << 20)
    answer = client.post(url, files={"file": ("y.jsonl", far_over)}, headers=_auth(tokens))
    assert answer.status_code == 413
    assert _uploads(settings) == []
    # Within the limit: accepted.
    fine = client.post(
        url, files={"file": ("ok.jsonl", b'{"id": 1, "text": "a"}\n')}, headers=_auth(tokens)
    )
    assert fine.status_code == 202


def test_chunked_upload_is_cut_off_at_the_limit(tight) -> None:
    client, settings, tokens = tight
    boundary = "limitboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(64):  # 4 MiB in all, if it were all read
            yield b"w" * (64 << 10)
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = client.post(
        f"{API}/projects/demo/imports",
        content=chunks(),
        headers={**_auth(tokens), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413
    assert "LABELLOOP_MAX_UPLOAD_MB" in answer.json()["detail"]
    assert _uploads(settings) == []


def test_login_is_rate_limited_per_account_and_address_without_checking_the_password(
    tight,
) -> None:
    client, _settings, _tokens = tight
    url = f"{API}/auth/login"
    for _ in range(3):
        wrong = client.post(url, json={"username": "admin", "password": "not it at all"})
        assert wrong.status_code == 401
    blocked = client.post(url, json={"username": "admin", "password": PASSWORD})
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 900
    assert "too many failed logins" in blocked.json()["detail"]
    assert "set-cookie" not in blocked.headers
    # The limit is on this account from this address: another account from here still logs in.
    other = client.post(url, json={"username": "annotator", "password": PASSWORD})
    assert other.status_code == 200


def test_a_success_within_the_limit_logs_in(tight) -> None:
    client, _settings, _tokens = tight
    url = f"{API}/auth/login"
    for _ in range(2):
        assert (
            client.post(url, json={"username": "admin", "password": "nope nope"}).status_code == 401
        )
    assert client.post(url, json={"username": "admin", "password": PASSWORD}).status_code == 200


def test_denied_attempts_are_in_the_audit_log(tight) -> None:
    client, _settings, tokens = tight
    url = f"{API}/auth/login"
    secret = "my secret guess 123"
    for _ in range(3):
        client.post(url, json={"username": "admin", "password": secret})
    client.post(url, json={"username": "admin", "password": secret})  # throttled
    client.get(f"{API}/users", headers=_auth(tokens, "annotator"))  # 403
    client.get(f"{API}/projects")  # 401, no credentials

    failed = _events(client, "auth.login.denied")
    assert 1 <= len(failed) <= 2  # one per source and minute (the test may span two minutes)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        counted = conn.execute(
            select(t.denials.c.count).where(t.denials.c.action == "auth.login.denied")
        ).scalars()
        assert sum(counted) == 3
    payload = failed[0].payload
    assert failed[0].actor == "anonymous"
    assert payload["username"] == "admin" and payload["ip"] and payload["status"] == 401
    assert payload["reason"] == "wrong username or password"
    throttled = _events(client, "auth.login.throttled")
    assert len(throttled) == 1 and throttled[0].payload["status"] == 429
    denied = _events(client, "access.denied")
    by_status = {e.payload["status"]: e for e in denied}
    assert by_status[403].actor == "annotator"
    assert by_status[403].payload["path"] == f"{API}/users"
    assert "user.manage" in by_status[403].payload["reason"]
    assert by_status[401].actor == "anonymous"
    assert by_status[401].payload["path"] == f"{API}/projects"

    with engine.connect() as conn:
        everything = json.dumps(
            [dict(r._mapping) for r in conn.execute(select(t.events))], default=str
        )
    assert secret not in everything
    verified = client.get(f"{API}/audit/verify", headers=_auth(tokens)).json()
    assert verified["ok"] is True


def _parquet_truncated() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(50)), "text": ["t"] * 50}), out)
    data = out.getvalue()
    return data[: len(data) // 2]


# (uploaded name, content, form fields, line of the first reject, its field or None, words of it)
MALFORMED = [
    ("garbage.jsonl", bytes(range(256)) * 4, {}, 1, None, "invalid JSON"),
    ("garbage.csv", bytes(range(128, 256)) * 4, {}, 1, None, "UTF-8"),
    ("items.exe", b'{"id": 1, "text": "a"}\n', {}, 0, None, "unknown file format"),
    ("items.csv", b'{"id": 1, "text": "a"}\n', {"format": "parquet"}, 0, None, "Parquet"),
    (
        "broken.jsonl",
        b'{"id": 1, "text": "a"}\n{"id": 2, "txt": "b"}\n{"id": 3,\n',
        {},
        2,
        "text",
        "",
    ),
    ("dup.csv", b"id,text,text\n1,a,b\n", {}, 1, "text", "twice"),
    ("quote.csv", b'id,text\n1,"never closed\n2,b\n', {}, 2, None, "end of data"),
    ("half.parquet", _parquet_truncated(), {}, 0, None, "Parquet"),
    ("magic.parquet", b"PAR1" + b"\x00garbage" * 20 + b"PAR1", {}, 0, None, "Parquet"),
]


@pytest.mark.parametrize(("filename", "content", "form", "line", "field", "words"), MALFORMED)
def test_a_malformed_upload_fails_its_job_with_clear_rejects(
    tight, finished_job, filename, content, form, line, field, words
) -> None:
    client, settings, tokens = tight
    accepted = client.post(
        f"{API}/projects/demo/imports",
        files={"file": (filename, content)},
        data=form,
        headers=_auth(tokens),
    )
    assert accepted.status_code == 202, accepted.text
    job = finished_job(client, accepted.json()["job_id"], _auth(tokens))
    assert job["status"] == "failed"
    rejects = job["result"]["rejects"]
    assert rejects and all(r["file"] == filename for r in rejects), rejects
    first = rejects[0]
    assert (first["line"], first["field"]) == (line, field), first
    assert words in first["reason"] and first["reason"]
    # Where the server keeps uploads is nobody's business.
    assert str(settings.data_dir) not in json.dumps(job)
