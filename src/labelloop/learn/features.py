"""Featurizers: turn a list of item data dicts into the ``X`` a model takes.

Every featurizer has ``fit(records) -> self``, ``transform(records) -> X``, ``fit_transform``,
and ``get_state()`` / ``from_state(state)`` so that a fitted featurizer can be saved as explicit
arrays and parameters (see :mod:`labelloop.learn.persistence`), never as a pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from labelloop._validation import check_int
from labelloop.errors import ModelError, NotFittedError

StateValue = np.ndarray | str | float | int | bool | list[Any] | dict[str, Any] | None
State = dict[str, StateValue]
Records = Sequence[Mapping[str, Any]]


class Featurizer(Protocol):
    """What the loop needs from a featurizer."""

    kind: ClassVar[str]

    def fit(self, records: Records) -> Self: ...
    def transform(self, records: Records) -> Any: ...
    def fit_transform(self, records: Records) -> Any: ...
    def get_state(self) -> State: ...


def _not_fitted(owner: object) -> NotFittedError:
    name = type(owner).__name__
    return NotFittedError(f"This {name} is not fitted yet. Call 'fit' before using it.")


def _field(records: Records, field: str, i: int) -> Any:
    try:
        return records[i][field]
    except (KeyError, TypeError):
        raise ModelError(f"record {i} has no field '{field}'") from None


def _texts(records: Records, field: str) -> list[str]:
    texts = []
    for i in range(len(records)):
        value = _field(records, field, i)
        if not isinstance(value, str):
            raise ModelError(
                f"record {i} field '{field}' must be text. Got {type(value).__name__} instead."
            )
        texts.append(value)
    return texts


class _Base:
    kind: ClassVar[str]

    def fit(self, records: Records) -> Self:
        raise NotImplementedError

    def transform(self, records: Records) -> Any:
        raise NotImplementedError

    def fit_transform(self, records: Records) -> Any:
        """Fit on ``records`` and return their features."""
        return self.fit(records).transform(records)

    def get_state(self) -> State:
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _Base:
        raise NotImplementedError


class TfidfFeaturizer(_Base):
    """Sparse TF-IDF of word 1-2-grams (sublinear tf, L2 rows) from one text field.

    Fitting on the whole pool is fine: it sees no labels.
    """

    kind = "tfidf"

    def __init__(
        self,
        field: str = "text",
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        sublinear_tf: bool = True,
    ) -> None:
        self.field = field
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def _vectorizer(self, vocabulary: list[str] | None = None) -> TfidfVectorizer:
        lo, hi = self.ngram_range
        return TfidfVectorizer(
            ngram_range=(int(lo), int(hi)),
            min_df=self.min_df,
            sublinear_tf=self.sublinear_tf,
            vocabulary=vocabulary,
        )

    def fit(self, records: Records) -> Self:
        """Learn the vocabulary and idf weights of ``records``."""
        check_int(type(self).__name__, "min_df", self.min_df)
        try:
            fitted = self._vectorizer().fit(_texts(records, self.field))
        except ValueError as exc:  # empty vocabulary, min_df above the pool size
            raise ModelError(f"TF-IDF cannot be fitted on field '{self.field}': {exc}") from None
        self._set(fitted.get_feature_names_out().astype(str), fitted.idf_)
        return self

    def _set(self, vocabulary: np.ndarray, idf: np.ndarray) -> None:
        self.vocabulary_ = np.asarray(vocabulary, dtype=str)
        self.idf_ = np.asarray(idf, dtype=np.float64)
        vectorizer = self._vectorizer(self.vocabulary_.tolist())
        vectorizer.idf_ = self.idf_
        self._vectorizer_ = vectorizer

    def transform(self, records: Records) -> sparse.csr_matrix:
        """Return the (n, n_terms) sparse TF-IDF matrix of ``records``."""
        if not hasattr(self, "_vectorizer_"):
            raise _not_fitted(self)
        return self._vectorizer_.transform(_texts(records, self.field)).tocsr()

    def get_state(self) -> State:
        """Vocabulary terms in column order, idf weights and parameters."""
        if not hasattr(self, "_vectorizer_"):
            raise _not_fitted(self)
        return {
            "kind": self.kind,
            "field": self.field,
            "ngram_range": [int(v) for v in self.ngram_range],
            "min_df": int(self.min_df),
            "sublinear_tf": bool(self.sublinear_tf),
            "vocabulary": self.vocabulary_,
            "idf": self.idf_,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TfidfFeaturizer:
        """Rebuild a fitted featurizer from :meth:`get_state` output."""
        lo, hi = state["ngram_range"]
        new = cls(
            str(state["field"]),
            ngram_range=(int(lo), int(hi)),
            min_df=int(state["min_df"]),
            sublinear_tf=bool(state["sublinear_tf"]),
        )
        vocabulary, idf = np.asarray(state["vocabulary"]), np.asarray(state["idf"])
        if vocabulary.shape != idf.shape:
            raise ModelError(f"TF-IDF state has {vocabulary.size} terms but {idf.size} idf weights")
        new._set(vocabulary, idf)
        return new


class EmbeddingFeaturizer(_Base):
    """Dense float32 sentence embeddings (all-MiniLM-L6-v2, 384 columns) of one text field.

    Nothing is learned; ``fit`` only marks the featurizer ready.
    """

    kind = "embeddings"

    def __init__(self, field: str = "text", *, batch_size: int = 128) -> None:
        self.field = field
        self.batch_size = batch_size

    def fit(self, records: Records) -> Self:
        """Check parameters; embeddings need no fitting."""
        check_int(type(self).__name__, "batch_size", self.batch_size)
        self.fitted_ = True
        return self

    def transform(self, records: Records) -> np.ndarray:
        """Return (n, 384) L2-normalised float32 embeddings."""
        if not getattr(self, "fitted_", False):
            raise _not_fitted(self)
        from labelloop.learn.embeddings import EMBEDDING_DIM, encode_texts

        texts = _texts(records, self.field)
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return encode_texts(texts, batch_size=self.batch_size)

    def get_state(self) -> State:
        """The text field and batch size."""
        if not getattr(self, "fitted_", False):
            raise _not_fitted(self)
        return {"kind": self.kind, "field": self.field, "batch_size": int(self.batch_size)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EmbeddingFeaturizer:
        """Rebuild from :meth:`get_state` output."""
        return cls(str(state["field"]), batch_size=int(state["batch_size"])).fit([])


class NumericFeaturizer(_Base):
    """Float matrix from named fields, standardised as by ``StandardScaler`` when ``scale``.

    A field may hold a number or a flat or nested list of numbers (e.g. image pixels); its values
    become consecutive columns. Missing or non-finite values raise :class:`ModelError`.
    """

    kind = "numeric"

    def __init__(self, fields: Sequence[str], *, scale: bool = True) -> None:
        self.fields = fields
        self.scale = scale

    def _matrix(self, records: Records) -> np.ndarray:
        rows = []
        for i in range(len(records)):
            parts = []
            for field in self.fields:
                value = _field(records, field, i)
                try:
                    part = np.asarray(value, dtype=np.float64).ravel()
                except (TypeError, ValueError):
                    part = np.array([np.nan])
                if not np.all(np.isfinite(part)):
                    raise ModelError(
                        f"record {i} field '{field}' must be finite numbers. Got {value!r:.60}."
                    )
                parts.append(part)
            rows.append(np.concatenate(parts) if parts else np.zeros(0))
        widths = {row.size for row in rows}
        if len(widths) > 1:
            raise ModelError(f"records have different numbers of values: {sorted(widths)}")
        width = widths.pop() if widths else getattr(self, "n_features_in_", 0)
        return np.array(rows, dtype=np.float64).reshape(len(rows), width)

    def fit(self, records: Records) -> Self:
        """Learn each column's mean and scale."""
        if isinstance(self.fields, str) or not self.fields:
            raise ValueError(
                f"The 'fields' parameter of {type(self).__name__} must be a non-empty list of "
                f"field names. Got {self.fields!r} instead."
            )
        X = self._matrix(records)
        if X.shape[0] == 0:
            raise ModelError("NumericFeaturizer cannot be fitted on no records")
        if self.scale:
            scaler = StandardScaler().fit(X)
            mean, scale = scaler.mean_, scaler.scale_
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.mean_, self.scale_ = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, records: Records) -> np.ndarray:
        """Return the (n, n_columns) float64 matrix, standardised with the fitted statistics."""
        if not hasattr(self, "mean_"):
            raise _not_fitted(self)
        X = self._matrix(records)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"records have {X.shape[1]} numeric values, the featurizer was fitted on "
                f"{self.n_features_in_}"
            )
        return (X - self.mean_) / self.scale_

    def get_state(self) -> State:
        """Field names, column means and scales."""
        if not hasattr(self, "mean_"):
            raise _not_fitted(self)
        return {
            "kind": self.kind,
            "fields": list(self.fields),
            "scale": bool(self.scale),
            "means": self.mean_,
            "scales": self.scale_,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NumericFeaturizer:
        """Rebuild a fitted featurizer from :meth:`get_state` output."""
        new = cls([str(f) for f in state["fields"]], scale=bool(state["scale"]))
        new.mean_ = np.asarray(state["means"], dtype=np.float64)
        new.scale_ = np.asarray(state["scales"], dtype=np.float64)
        new.n_features_in_ = new.mean_.size
        return new


class RecordsFeaturizer(_Base):
    """``X`` is a 1-D NumPy object array of the record dicts, for plug-in and HTTP models."""

    kind = "records"

    def fit(self, records: Records) -> Self:
        """Nothing to learn."""
        self.fitted_ = True
        return self

    def transform(self, records: Records) -> np.ndarray:
        """Return the records as an object array, so ``X[idx]`` works."""
        if not getattr(self, "fitted_", False):
            raise _not_fitted(self)
        X = np.empty(len(records), dtype=object)
        for i in range(len(records)):
            X[i] = records[i]
        return X

    def get_state(self) -> State:
        """Only the kind: there are no parameters."""
        if not getattr(self, "fitted_", False):
            raise _not_fitted(self)
        return {"kind": self.kind}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RecordsFeaturizer:
        """Rebuild from :meth:`get_state` output."""
        return cls().fit([])


FEATURIZERS: dict[str, type[_Base]] = {
    cls.kind: cls
    for cls in (TfidfFeaturizer, EmbeddingFeaturizer, NumericFeaturizer, RecordsFeaturizer)
}


def featurizer_from_state(state: Mapping[str, Any]) -> Featurizer:
    """Rebuild any featurizer from its :meth:`get_state` output, dispatching on ``kind``."""
    cls = FEATURIZERS.get(str(state.get("kind")))
    if cls is None:
        raise ModelError(f"unknown featurizer kind {state.get('kind')!r}")
    try:
        return cls.from_state(state)
    except KeyError as exc:
        raise ModelError(f"{cls.kind} featurizer state lacks {exc}") from None


def make_featurizer(
    kind: str, *, text_field: str = "text", feature_fields: Sequence[str] = ()
) -> Featurizer:
    """A new, unfitted featurizer of ``kind``: 'tfidf' or 'embeddings' of ``text_field``,
    'numeric' from ``feature_fields``, or 'records' (the item dicts themselves)."""
    if kind == "tfidf":
        return TfidfFeaturizer(text_field)
    if kind == "embeddings":
        return EmbeddingFeaturizer(text_field)
    if kind == "numeric":
        if isinstance(feature_fields, str) or not feature_fields:
            raise ValueError("a 'numeric' featurizer needs feature_fields (the numeric columns)")
        return NumericFeaturizer(list(feature_fields))
    if kind == "records":
        return RecordsFeaturizer()
    raise ValueError(f"unknown featurizer kind {kind!r}; known: {', '.join(FEATURIZERS)}")
