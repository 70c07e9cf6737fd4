"""The pages through a plain TestClient: who sees what, redirects, static files, no secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.cli.demo import DEMO_ACCOUNTS, prepare_demo
from labelloop.server.app import create_app
from labelloop.server.deps import SESSION_COOKIE
from labelloop.server.web.charts import learning_curve
from labelloop.server.web.work_pages import label_keys
from labelloop.settings import Settings

PASSWORDS = {username: password for username, _role, password in DEMO_ACCOUNTS}
PAGES = (
    "/",
    "/projects/digits/annotate",
    "/projects/digits/review",
    "/projects/digits/dashboard",
)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    prepare_demo(data_dir)
    return data_dir


@pytest.fixture
def client(demo_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=demo_dir))) as client:
        yield client


def login(client: TestClient, username: str) -> str:
    """Log in through the API as the page does; the CSRF token."""
    res = client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORDS[username]}
    )
    assert res.status_code == 200, res.text
    token: str = res.json()["csrf_token"]
    return token


def page_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="page-config">(.*?)</script>', html)
    assert found is not None
    config: dict[str, object] = json.loads(found.group(1))
    return config


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_strangers_to_login(client: TestClient, path: str) -> None:
    res = client.get(path, follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"].startswith("/login?next=")
    assert client.get(path).url.path == "/login"


def test_login_page_renders_a_form_without_secrets(client: TestClient) -> None:
    res = client.get("/login")
    assert res.status_code == 200
    assert 'id="login-form"' in res.text
    assert '<meta name="csrf-token" content="">' in res.text
    assert "default-src 'self'" in res.headers["content-security-policy"]


def test_static_files_are_served(client: TestClient) -> None:
    js = client.get("/static/app.js")
    css = client.get("/static/app.css")
    assert js.status_code == css.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "text/css" in css.headers["content-type"]
    assert "X-CSRF-Token" in js.text
    # Offline by construction: nothing is fetched from another origin.
    for text in (js.text, css.text, client.get("/login").text):
        assert "http://" not in text and "https://" not in text


def test_index_lists_projects_by_role(client: TestClient) -> None:
    login(client, "annotator")
    html = client.get("/").text
    assert "/projects/digits/annotate" in html
    assert "/projects/digits/dashboard" not in html and "/projects/digits/review" not in html
    login(client, "reviewer")
    html = client.get("/").text
    assert "/projects/digits/dashboard" in html and "/projects/digits/review" in html


def test_annotate_page_carries_csrf_but_never_the_session_cookie(client: TestClient) -> None:
    csrf = login(client, "annotator")
    res = client.get("/projects/digits/annotate")
    assert res.status_code == 200
    html = res.text
    assert f'<meta name="csrf-token" content="{csrf}">' in html
    cookie = client.cookies[SESSION_COOKIE]
    assert cookie not in html
    assert PASSWORDS["annotator"] not in html
    assert "Type the digit you see" in html  # the guidelines beside the item
    config = page_config(html)
    assert config["keys"] == [str(d) for d in range(10)]
    assert config["image_shape"] == [8, 8] and config["tier"] == "annotator"
    assert res.headers["cache-control"] == "no-store"


def test_work_pages_check_the_tier_and_the_project(client: TestClient) -> None:
    login(client, "annotator")
    assert client.get("/projects/digits/review").status_code == 403
    assert client.get("/projects/digits/annotate?tier=expert").status_code == 403
    assert client.get("/projects/digits/dashboard").status_code == 403
    assert client.get("/projects/digits/annotate?break_minutes=0").status_code == 422
    assert client.get("/projects/nope/annotate").status_code == 404
    login(client, "reviewer")
    res = client.get("/projects/digits/review")
    assert res.status_code == 200
    assert page_config(res.text)["tier"] == "reviewer"
    assert 'id="review-context"' in res.text


def test_dashboard_shows_counts_after_work(client: TestClient) -> None:
    csrf = login(client, "annotator")
    headers = {"X-CSRF-Token": csrf}
    tasks = client.post("/api/v1/projects/digits/tasks/next", json={"n": 3}, headers=headers).json()
    for task in tasks:
        res = client.post(
            f"/api/v1/projects/digits/tasks/{task['task_id']}/submit",
            json={"label": "3", "client_key": f"k{task['task_id']}"},
            headers=headers,
        )
        assert res.status_code == 200, res.text
    login(client, "reviewer")
    res = client.get("/projects/digits/dashboard")
    assert res.status_code == 200
    status = client.get("/api/v1/projects/digits/status").json()
    html = res.text
    assert f'<p class="big">{status["items"]}</p>' in html
    for state, count in status["by_status"].items():
        assert f"<tr><th>{state}</th><td>{count}</td></tr>" in html
    assert 'id="queue"' in html and 'id="rounds-card"' in html
    assert 'id="no-curve"' in html  # no model yet


def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "annotator")
    assert client.get("/logout").status_code == 200
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    res = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/login"
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    login(client, "annotator")
    res = client.get("/login", params={"next": target}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/"


def test_label_keys() -> None:
    assert label_keys(("0", "1", "2")) == ["0", "1", "2"]
    assert label_keys(("neg", "pos")) == ["1", "2"]
    assert label_keys(tuple(f"l{n}" for n in range(12))) == [*"1234567890", "", ""]


def test_learning_curve_geometry() -> None:
    assert learning_curve([]) is None
    chart = learning_curve([(100, 0.9), (50, 0.8)])
    assert chart is not None
    (x0, y0, _), (x1, y1, tip) = chart.points
    assert x0 < x1 and y0 > y1  # sorted by labels; better accuracy is higher up
    assert tip == "100 labels: accuracy 0.900"
    assert all(0 <= y <= chart.height for y, _ in chart.y_ticks)


def test_dashboard_draws_models_rounds_and_the_curve() -> None:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from labelloop.server.web import TEMPLATES_DIR

    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())
    models = [
        {"version": 1, "status": "retired", "n_labels": 50, "accuracy": 0.81},
        {"version": 2, "status": "promoted", "n_labels": 100, "accuracy": 0.93},
    ]
    status = {
        "items": 200,
        "by_status": {"labelled": 100, "auto": 60, "new": 40},
        "queue": {"annotator": 40},
        "holdout": {"labelled": 20, "size": 20},
        "label_sources": {"human": 100, "auto": 60},
        "human_share": 0.5,
        "models": models,
        "rounds": [
            {
                "id": 1,
                "attempt": 1,
                "status": "passed",
                "model_version": 2,
                "candidates": 60,
                "sample_size": 12,
                "sample_errors": 0,
                "error_bound": 0.004,
                "allowed_errors": 0,
            }
        ],
        "accuracy_lower_bound": None,
    }
    chart = learning_curve([(m["n_labels"], m["accuracy"]) for m in models])
    html = env.get_template("dashboard.html").render(
        user=None, csrf_token="", project="p", status=status, chart=chart
    )
    assert 'id="learning-curve"' in html and "<polyline" in html
    assert "100 labels: accuracy 0.930" in html
    assert "<td>0.930</td>" in html and "<td>0.0040</td>" in html
