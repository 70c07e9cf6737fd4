"""The demo's data: a digits project and demo accounts, created once."""

from __future__ import annotations

from pathlib import Path

from labelloop.accounts.memberships import list_memberships
from labelloop.accounts.users import authenticate, list_users
from labelloop.cli.demo import DEMO_ACCOUNTS, prepare_demo
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings


def test_prepare_demo_is_idempotent(tmp_path: Path) -> None:
    prepare_demo(tmp_path)
    prepare_demo(tmp_path)
    settings = Settings(data_dir=tmp_path)
    engine = connect(settings)
    try:
        project = Project.open("digits", engine=engine, settings=settings)
        status = project.status()
        assert status["items"] == 1797
        assert status["holdout"]["size"] == 179
        assert {u.username for u in list_users(engine)} == {a[0] for a in DEMO_ACCOUNTS}
        name, role, password = DEMO_ACCOUNTS[-1]
        assert authenticate(engine, name, password).role == role
        project.close()
    finally:
        engine.dispose()


def test_demo_accounts_are_members_of_the_demo_project(tmp_path: Path) -> None:
    prepare_demo(tmp_path)
    settings = Settings(data_dir=tmp_path)
    engine = connect(settings)
    try:
        project = Project.open("digits", engine=engine, settings=settings)
        project.remove_member("annotator", actor="test")  # as a demo dir from before memberships
        prepare_demo(tmp_path)
        members = {m.username: m.tier for m in list_memberships(engine, project_id=project.id)}
        assert members == {
            "admin": "expert",
            "expert": "expert",
            "reviewer": "reviewer",
            "annotator": "annotator",
        }
        project.close()
    finally:
        engine.dispose()
