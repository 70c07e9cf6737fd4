"""parse_record: every problem at once, stable keys, labels single and multi."""

from __future__ import annotations

import math

from labelloop.config import ProjectConfig
from labelloop.errors import Reject
from labelloop.io.records import ItemRecord, parse_record


def _parse(raw: dict, config: ProjectConfig, **kwargs: bool) -> ItemRecord | list[Reject]:
    return parse_record(raw, config=config, file="f.jsonl", line=7, **kwargs)


def _item(raw: dict, config: ProjectConfig, **kwargs: bool) -> ItemRecord:
    item = _parse(raw, config, **kwargs)
    assert isinstance(item, ItemRecord), item
    return item


def _problems(raw: dict, config: ProjectConfig, **kwargs: bool) -> dict[str | None, str]:
    rejects = _parse(raw, config, **kwargs)
    assert isinstance(rejects, list), rejects
    assert all(r.file == "f.jsonl" and r.line == 7 for r in rejects)
    return {r.field: r.reason for r in rejects}


def test_text_record_keeps_metadata_and_drops_label(text_config: ProjectConfig) -> None:
    item = _item({"text": "great", "label": "pos", "amount": 12}, text_config)
    assert item.data == {"text": "great", "amount": 12}
    assert item.label == "pos"
    assert item.key.startswith("sha256:")


def test_reports_every_problem_with_field_names(text_config: ProjectConfig) -> None:
    problems = _problems({"id": "", "text": 5, "label": "meh", "x": math.nan}, text_config)
    assert set(problems) == {"id", "text", "label", "x"}
    assert "empty" in problems["id"]
    assert "non-empty string" in problems["text"]
    assert problems["label"] == "unknown label 'meh'; allowed: neg, pos"
    assert "NaN" in problems["x"]


def test_missing_text_and_long_or_bad_id(text_config: ProjectConfig) -> None:
    assert set(_problems({"id": "x" * 201}, text_config)) == {"id", "text"}
    assert "string or an integer" in _problems({"id": 1.5, "text": "a"}, text_config)["id"]
    assert "empty" in _problems({"text": "   "}, text_config)["text"]


def test_tabular_features_converted_and_checked(tabular_config: ProjectConfig) -> None:
    item = _item({"age": "41", "income": 52000, "label": "ok"}, tabular_config, from_csv=True)
    assert item.data == {"age": 41.0, "income": 52000.0}
    problems = _problems({"age": "old", "income": "inf", "label": "x"}, tabular_config)
    assert set(problems) == {"age", "income", "label"}
    assert "finite number" in problems["age"]
    assert "finite number" in problems["income"]
    assert "missing" in _problems({"age": 3}, tabular_config)["income"]
    assert "true/false" in _problems({"age": True, "income": 1}, tabular_config)["age"]


def test_same_content_same_key_and_id_wins(text_config: ProjectConfig) -> None:
    a = _item({"text": "hi", "lang": "en", "label": "pos"}, text_config)
    b = _item({"lang": "en", "text": "hi"}, text_config)
    c = _item({"text": "hi", "lang": "fr"}, text_config)
    assert a.key == b.key != c.key
    assert _item({"id": 42, "text": "hi"}, text_config).key == "id:42"
    assert _item({"id": "42", "text": "other"}, text_config).key == "id:42"


def test_csv_and_json_sources_give_the_same_key(text_config: ProjectConfig) -> None:
    from_json = _item({"text": "007", "amount": 1200, "code": "007", "note": None}, text_config)
    from_csv = _item(
        {"text": "007", "amount": "1200", "code": "007", "note": ""}, text_config, from_csv=True
    )
    assert from_csv.data == {"text": "007", "amount": 1200, "code": "007", "note": None}
    assert from_csv.key == from_json.key


def test_multi_label_from_json_list_and_csv_string(multi_config: ProjectConfig) -> None:
    from_json = _item({"text": "a", "labels": ["tech", "art", "tech"]}, multi_config)
    from_csv = _item({"text": "a", "labels": "tech|art"}, multi_config, from_csv=True)
    assert from_json.label == from_csv.label == ["art", "tech"]
    assert from_json.key == from_csv.key
    assert _item({"text": "a", "labels": ""}, multi_config).label is None
    assert _item({"text": "a", "labels": []}, multi_config).label is None
    reason = _problems({"text": "a", "labels": ["art", "food", "zoo"]}, multi_config)["labels"]
    assert reason == "unknown labels 'food', 'zoo'; allowed: art, law, tech"


def test_single_label_rejects_a_list(text_config: ProjectConfig) -> None:
    reason = _problems({"text": "a", "label": ["pos"]}, text_config)["label"]
    assert "single-label" in reason
    assert _item({"text": "a", "label": ""}, text_config).label is None


def test_no_label_field_keeps_the_column_as_data() -> None:
    config = ProjectConfig(name="p", labels=("a", "b"), id_field=None)
    item = _item({"id": 3, "text": "t", "label": "zzz"}, config)
    assert item.label is None
    assert item.data == {"id": 3, "text": "t", "label": "zzz"}
    assert item.key.startswith("sha256:")
