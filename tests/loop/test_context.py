"""The loop's steps are functions over a small context and explicit state holders: they run
without a Project, with the clock the context gives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from labelloop.config import parse_config
from labelloop.loop import queue, reporting, submission
from labelloop.loop.aggregating import AnswersCache, VoteModel
from labelloop.loop.context import LoopContext
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings


def test_steps_run_on_a_bare_context_with_its_clock(tmp_path, store_url, close) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    engine = connect(settings)
    project = Project.create(
        {"name": "c", "labels": ["a", "b"]}, engine=engine, settings=settings, retrain="off"
    )
    close(project)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": n, "text": f"t {n}"}) + "\n" for n in range(4)))
    project.import_file(items)

    frozen = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ctx = LoopContext(
        engine,
        project.id,
        parse_config({"name": "c", "labels": ["a", "b"]}),
        settings,
        random_state=0,
        clock=lambda: frozen,
    )
    tasks = queue.next_tasks(ctx, 2, annotator="ann")
    lease = timedelta(seconds=ctx.config.tasks.lease_seconds)
    assert [task.lease_expires_at for task in tasks] == [frozen + lease] * 2

    votes = VoteModel(ctx, AnswersCache())
    result = submission.annotate(
        ctx, votes, tasks[0].item_id, "b", annotator="ann", task_id=tasks[0].id
    )
    assert result.decided and votes.method == "majority"
    assert reporting.status(ctx)["by_status"]["labelled"] == 1
