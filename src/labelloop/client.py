"""A small client of the labelloop HTTP API.

    from labelloop import Client

    client = Client("http://localhost:8000", token="ll_...")      # or: client.login(user, pw)
    for task in client.next_tasks("reviews", n=10):
        client.submit("reviews", task["task_id"], "pos")

Error answers raise the matching :mod:`labelloop.errors` exception. :meth:`Client.submit` sends a
``client_key`` (a fresh UUID unless given) and retries lost connections and 5xx answers with the
same key, so a retry never stores an annotation twice.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from labelloop.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    InputFileError,
    LabelloopError,
    ModelError,
    NotFoundError,
    PermissionDenied,
    Reject,
)

ERRORS: dict[int, type[LabelloopError]] = {
    401: AuthError,
    403: PermissionDenied,
    404: NotFoundError,
    409: ConflictError,
    422: ConfigError,
    502: ModelError,
}
RETRY_STATUS = frozenset({500, 502, 503, 504})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def raise_for_answer(response: httpx.Response) -> None:
    """Raise the labelloop exception an error answer stands for."""
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = str(body.get("detail") or response.reason_phrase) if isinstance(body, dict) else ""
    if response.status_code == 422 and isinstance(body, dict) and body.get("rejects") is not None:
        raise InputFileError(
            [
                Reject(r["file"], int(r["line"]), r.get("field"), r["reason"])
                for r in body["rejects"]
            ]
        )
    cls = ERRORS.get(response.status_code, LabelloopError)
    raise cls(detail if cls is not LabelloopError else f"HTTP {response.status_code}: {detail}")


class Client:
    """The labelloop API over HTTP.

    Pass ``token`` for API-token auth, or call :meth:`login` for a session (the cookie and CSRF
    header are then sent automatically). ``transport`` replaces httpx's network transport;
    ``http`` is an existing :class:`httpx.Client` to use instead (e.g. FastAPI's ``TestClient``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
    ) -> None:
        self.api = base_url.rstrip("/") + "/api/v1"
        self.retries = retries
        self.backoff = backoff
        self._own = http is None
        self.http = http or httpx.Client(transport=transport, timeout=timeout)
        self._headers: dict[str, str] = {}
        self._csrf: str | None = None
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"

    # -- plumbing -----------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(self._headers)
        if method in UNSAFE and self._csrf is not None:
            headers["X-CSRF-Token"] = self._csrf
        return self.http.request(method, self.api + path, headers=headers, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        raise_for_answer(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def close(self) -> None:
        """Close the connection pool (not an ``http`` client passed in)."""
        if self._own:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- auth and users -----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``{"status": "ok"}`` when the server answers."""
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Open a browser-style session (cookie + CSRF token)."""
        result: dict[str, Any] = self._call(
            "POST", "/auth/login", json={"username": username, "password": password}
        )
        self._csrf = result["csrf_token"]
        self._headers.pop("Authorization", None)
        return result

    def logout(self) -> None:
        """End the session."""
        self._call("POST", "/auth/logout")
        self._csrf = None

    def me(self) -> dict[str, Any]:
        """Who the server thinks is asking."""
        result: dict[str, Any] = self._call("GET", "/auth/me")
        return result

    def create_token(self, name: str, days: int | None = None) -> str:
        """A new API token for the current user (shown once), valid ``days`` (default: the
        server's ``LABELLOOP_TOKEN_DAYS``)."""
        body: dict[str, Any] = {"name": name} if days is None else {"name": name, "days": days}
        return str(self._call("POST", "/auth/tokens", json=body)["token"])

    def tokens(self) -> list[dict[str, Any]]:
        """The current user's API tokens (id, name, dates; never the tokens themselves)."""
        result: list[dict[str, Any]] = self._call("GET", "/auth/tokens")
        return result

    def revoke_token(self, token_id: int) -> None:
        """Revoke one of the current user's API tokens."""
        self._call("DELETE", f"/auth/tokens/{token_id}")

    def change_password(self, old_password: str, new_password: str) -> dict[str, Any]:
        """Change one's password; every session and API token of the user ends (this one too)."""
        body = {"old_password": old_password, "new_password": new_password}
        result: dict[str, Any] = self._call("POST", "/auth/password", json=body)
        self._csrf = None
        return result

    def logout_everywhere(self) -> dict[str, Any]:
        """End every session and API token of the current user (this one too)."""
        result: dict[str, Any] = self._call("POST", "/auth/logout-everywhere")
        self._csrf = None
        return result

    def users(self) -> list[dict[str, Any]]:
        """Every active user (admins)."""
        result: list[dict[str, Any]] = self._call("GET", "/users")
        return result

    def add_user(self, username: str, password: str, role: str) -> dict[str, Any]:
        """Create a user (admins)."""
        result: dict[str, Any] = self._call(
            "POST", "/users", json={"username": username, "password": password, "role": role}
        )
        return result

    # -- projects -----------------------------------------------------------------------

    def projects(self) -> list[dict[str, Any]]:
        """Every project."""
        result: list[dict[str, Any]] = self._call("GET", "/projects")
        return result

    def create_project(self, config: dict[str, Any]) -> dict[str, Any]:
        """Create a project from a config dict."""
        result: dict[str, Any] = self._call("POST", "/projects", json=config)
        return result

    def status(self, name: str) -> dict[str, Any]:
        """Items by state, queue, models and rounds of a project."""
        result: dict[str, Any] = self._call("GET", f"/projects/{name}/status")
        return result

    def job(self, job_id: int) -> dict[str, Any]:
        """A background job's state."""
        result: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        return result

    def wait(self, job_id: int, *, poll: float = 0.2, timeout: float = 3600) -> dict[str, Any]:
        """Poll a job until it is done; a failed import raises :class:`InputFileError`."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] == "done":
                return job
            if job["status"] == "failed":
                rejects = (job.get("result") or {}).get("rejects")
                if rejects:
                    raise InputFileError(
                        [Reject(r["file"], r["line"], r.get("field"), r["reason"]) for r in rejects]
                    )
                raise LabelloopError(f"job {job_id} failed: {job['error']}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
            time.sleep(poll)

    def import_file(
        self,
        name: str,
        path: str | Path,
        *,
        fmt: str | None = None,
        skip_invalid: bool = False,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Upload a file of items; with ``wait`` poll the import job until it ends."""
        path = Path(path)
        data: dict[str, str] = {"skip_invalid": str(skip_invalid).lower()}
        if fmt is not None:
            data["format"] = fmt
        with path.open("rb") as fh:
            accepted = self._call(
                "POST", f"/projects/{name}/imports", files={"file": (path.name, fh)}, data=data
            )
        job_id = int(accepted["job_id"])
        return self.wait(job_id) if wait else {"id": job_id, "status": "queued"}

    # -- work ---------------------------------------------------------------------------

    def next_tasks(self, name: str, n: int = 1, tier: str = "annotator") -> list[dict[str, Any]]:
        """Lease the next ``n`` tasks of ``tier``."""
        result: list[dict[str, Any]] = self._call(
            "POST", f"/projects/{name}/tasks/next", json={"n": n, "tier": tier}
        )
        return result

    def submit(
        self,
        name: str,
        task_id: int,
        label: str | list[str] | None,
        *,
        client_key: str | None = None,
        flag: str | None = None,
    ) -> dict[str, Any]:
        """Answer a task; lost connections and 5xx answers are retried with the same key."""
        body = {"label": label, "flag": flag, "client_key": client_key or uuid.uuid4().hex}
        path = f"/projects/{name}/tasks/{task_id}/submit"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send("POST", path, json=body)
            except httpx.TransportError:
                if last:
                    raise
            else:
                if response.status_code not in RETRY_STATUS or last:
                    raise_for_answer(response)
                    result: dict[str, Any] = response.json()
                    return result
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def skip(self, name: str, task_id: int) -> None:
        """Give a leased task back."""
        self._call("POST", f"/projects/{name}/tasks/{task_id}/skip")

    def annotations(self, name: str, item_id: int) -> dict[str, Any]:
        """An item's annotations, prediction and final label (reviewers and up)."""
        result: dict[str, Any] = self._call("GET", f"/projects/{name}/items/{item_id}/annotations")
        return result

    # -- models and datasets ------------------------------------------------------------

    def train(self, name: str, *, wait: bool = True) -> dict[str, Any]:
        """Train a model version (a background job; with ``wait`` its finished record)."""
        job_id = int(self._call("POST", f"/projects/{name}/models/train")["job_id"])
        return self.wait(job_id) if wait else {"id": job_id, "status": "queued"}

    def models(self, name: str) -> list[dict[str, Any]]:
        """Every model version with its metrics."""
        result: list[dict[str, Any]] = self._call("GET", f"/projects/{name}/models")
        return result

    def export(self, name: str, fmt: str = "jsonl") -> dict[str, Any]:
        """Write a dataset version on the server: ``{id, content_hash, n_items, path}``."""
        result: dict[str, Any] = self._call(
            "POST", f"/projects/{name}/exports", json={"format": fmt}
        )
        return result

    def download(self, name: str, version_id: int, out: str | Path, fmt: str | None = None) -> Path:
        """Save a dataset version's file to ``out``."""
        params = {"format": fmt} if fmt else None
        response = self._send(
            "GET", f"/projects/{name}/exports/{version_id}/download", params=params
        )
        raise_for_answer(response)
        out = Path(out)
        out.write_bytes(response.content)
        return out
