"""labelloop.Client against the app (FastAPI's TestClient is an httpx.Client)."""

from __future__ import annotations

import httpx
import pytest

from labelloop import Client
from labelloop.errors import AuthError, ConfigError, InputFileError, NotFoundError, PermissionDenied


class LoseFirstAnswer(httpx.BaseTransport):
    """Passes requests on, but the first submit's answer is 'lost' after the server stored it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        if request.url.path.endswith("/submit") and not self.lost:
            self.lost += 1
            raise httpx.ReadError("connection dropped", request=request)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def test_client_covers_the_loop(server) -> None:
    admin = Client("http://testserver", token=server.tokens["admin"], http=server.client)
    assert admin.health() == {"status": "ok"}
    admin.create_project(server.config())
    assert [p["name"] for p in admin.projects()] == ["demo"]
    server.join("demo", "annotator")
    rows = server.texts(30)
    job = admin.import_file("demo", server.write_jsonl(server.tmp / "items.jsonl", rows))
    assert job["result"]["added"] == 30
    bad = server.tmp / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(InputFileError) as info:
        admin.import_file("demo", bad)
    assert info.value.rejects[0].line == 1
    with pytest.raises(ConfigError, match="bogus"):
        admin.create_project({**server.config("x"), "bogus": 1})
    with pytest.raises(NotFoundError):
        admin.status("nope")

    truth = {r["text"]: r["truth"] for r in rows}
    ana = Client("http://testserver", http=server.client)
    with pytest.raises(AuthError):
        ana.login("annotator", "not the password")
    assert ana.login("annotator", server.password)["role"] == "annotator"
    assert ana.me()["username"] == "annotator"
    tasks = ana.next_tasks("demo", n=20)
    for task in tasks:
        assert ana.submit("demo", task["task_id"], truth[task["data"]["text"]])["created"]
    with pytest.raises(PermissionDenied):
        ana.train("demo")
    ana.logout()
    server.client.cookies.clear()

    trained = admin.train("demo")
    assert trained["status"] == "done" and trained["result"]["version"] == 1
    assert admin.models("demo")[0]["version"] == 1
    version = admin.export("demo", "csv")
    out = admin.download("demo", version["id"], server.tmp / "out.csv")
    assert out.read_text().count("\n") == version["n_items"] + 1


def test_submit_retries_with_the_same_key(server) -> None:
    server.add_project(server.texts(12))
    flaky = LoseFirstAnswer(server.client._transport)
    with httpx.Client(transport=flaky) as http:
        client = Client("http://testserver", token=server.tokens["annotator"], http=http)
        client.backoff = 0.0
        task = client.next_tasks("demo")[0]
        answer = client.submit("demo", task["task_id"], "pos")
    assert flaky.lost == 1
    assert answer["created"] is False  # the first try was stored; the retry found it
    detail = Client("http://testserver", token=server.tokens["admin"], http=server.client)
    annotations = detail.annotations("demo", server.item_of(task))["annotations"]
    assert len(annotations) == 1
