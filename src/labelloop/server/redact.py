"""What of a project's config a person who may not manage the project sees.

Only what the work needs: the name, the label schema and task kind, how items look, the
guidelines, and the lease length that times the page. Never the rest: ``model.url`` can carry
credentials, plugin paths and ``routing`` name the deployment and its risk and skill rules, and
``quality`` holds the gold rate, the accuracy floor and the gates by which people's work is
judged.
"""

from __future__ import annotations

from typing import Any

from labelloop.config import ProjectConfig

#: Top-level keys shown as they are.
WORKER_KEYS = (
    "name",
    "labels",
    "kind",
    "multi_label",
    "data",
    "text_field",
    "feature_fields",
    "image_shape",
    "guidelines",
)
#: Keys of ``tasks`` shown.
WORKER_TASK_KEYS = ("lease_seconds",)


def worker_config(config: ProjectConfig) -> dict[str, Any]:
    """The whitelisted part of ``config``, as JSON."""
    full = config.model_dump(mode="json")
    shown = {key: full[key] for key in WORKER_KEYS}
    shown["tasks"] = {key: full["tasks"][key] for key in WORKER_TASK_KEYS}
    return shown
