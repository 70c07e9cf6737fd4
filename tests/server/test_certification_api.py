"""Gold feedback, annotator skill, estimated accuracy, gates and certification over HTTP."""

from __future__ import annotations

import json


def test_gold_feedback_skill_gates_and_certify(server) -> None:
    server.add_project(
        server.texts(30),
        quality={"gold_rate": 0.5, "min_gold_answers": 2},
        routing={"holdout_size": 10, "holdout_max_fraction": 0.5, "target_accuracy": 0.5},
    )
    gold = server.tmp / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps(
                {"id": f"g{i}", "text": "great film", "label": "pos", "gold_note": "Praise."}
            )
            + "\n"
            for i in range(6)
        )
    )
    project = server.client.app.state.projects.get("demo")
    project.import_file(gold, gold=True)
    auth = server.auth("annotator")
    feedback = []
    while True:
        tasks = server.client.post(
            "/api/v1/projects/demo/tasks/next", json={"n": 10}, headers=auth
        ).json()
        if not tasks:
            break
        assert {task["kind"] for task in tasks} == {"task"}, "gold looks like any task"
        for task in tasks:
            answer = server.client.post(
                f"/api/v1/projects/demo/tasks/{task['task_id']}/submit",
                json={"label": "neg", "client_key": f"k{task['task_id']}"},
                headers=auth,
            ).json()
            if answer["gold_feedback"]:
                feedback.append(answer["gold_feedback"])
    assert feedback and feedback[0] == {"correct_label": "pos", "passage": "Praise."}
    admin = server.auth("admin")
    skill = server.client.get("/api/v1/projects/demo/quality/annotators", headers=admin).json()
    assert skill[0]["annotator"] == "annotator" and skill[0]["gold_accuracy"] == 0.0
    accuracy = server.client.get("/api/v1/projects/demo/quality/accuracy", headers=admin).json()
    assert accuracy["n_items"] == 30
    gates = server.client.get("/api/v1/projects/demo/quality/gates", headers=admin).json()
    assert {g["name"] for g in gates} >= {"holdout", "complete", "estimated_accuracy"}
    refused = server.client.post("/api/v1/projects/demo/certify", headers=admin)
    assert refused.status_code == 409
    assert "estimated_accuracy" in refused.json()["detail"]
