"""Models (logistic, plug-in, HTTP) and saving them as one .npz file."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelloop.errors import ModelError, NotFittedError
from labelloop.learn.calibration import TemperatureScaling
from labelloop.learn.features import NumericFeaturizer, RecordsFeaturizer, TfidfFeaturizer
from labelloop.learn.models import (
    ABSENT_CLASS_PROBA,
    HttpModel,
    LogisticModel,
    Model,
    load_plugin,
    make_model,
)
from labelloop.learn.persistence import FORMAT_VERSION, load_model, save_model

SEEDS = [0, 1, 2]


def _blobs(seed: int, n: int = 120, k: int = 3, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(scale=2.0, size=(k, d))
    return centres[y] + rng.normal(size=(n, d)), y


# --- LogisticModel ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3])
def test_logistic_matches_sklearn(seed: int, k: int) -> None:
    X, y = _blobs(seed, k=k)
    model = LogisticModel(k, C=0.5).fit(X, y)
    expected = LogisticRegression(C=0.5, max_iter=1000).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-10, atol=1e-12)


def test_logistic_works_on_sparse_tfidf() -> None:
    records = [{"text": t} for t in ["good film", "great film", "bad film", "awful plot"] * 3]
    X = TfidfFeaturizer().fit_transform(records)
    model = LogisticModel(2).fit(X, np.array([1, 1, 0, 0] * 3))
    proba = model.predict_proba(X)
    assert proba.shape == (12, 2) and (proba.argmax(axis=1) == [1, 1, 0, 0] * 3).all()
    assert model.embed(X) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_absent_classes_get_a_tiny_probability(seed: int) -> None:
    X, y3 = _blobs(seed, k=3)
    y = np.array([0, 2, 3])[y3]  # classes 1 and 4 of 5 never seen
    proba = LogisticModel(5).fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba[:, [1, 4]] < 2 * ABSENT_CLASS_PROBA)
    reference = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba[:, [0, 2, 3]], reference, atol=1e-5)


def test_a_single_seen_class_gives_smoothed_frequencies() -> None:
    X = np.ones((5, 2))
    proba = LogisticModel(3).fit(X, np.ones(5, dtype=int)).predict_proba(np.zeros((2, 2)))
    np.testing.assert_allclose(proba, [[1 / 8, 6 / 8, 1 / 8]] * 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_label_fits_one_model_per_label(seed: int) -> None:
    X, y = _blobs(seed, k=3)
    Y = np.stack([y == 0, y != 1, np.zeros_like(y)], axis=1).astype(int)
    proba = LogisticModel(3, multi_label=True).fit(X, Y).predict_proba(X)
    assert proba.shape == (len(X), 3)
    for j in (0, 1):
        expected = LogisticRegression(max_iter=1000).fit(X, Y[:, j]).predict_proba(X)[:, 1]
        np.testing.assert_allclose(proba[:, j], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(proba[:, 2], 1 / (len(X) + 2))  # never on: smoothed frequency


def test_logistic_checks_its_inputs() -> None:
    X, y = _blobs(0)
    with pytest.raises(NotFittedError, match="LogisticModel is not fitted"):
        LogisticModel(3).predict_proba(X)
    with pytest.raises(
        ValueError, match=r"The 'C' parameter of LogisticModel must be a float > 0\. Got -1"
    ):
        LogisticModel(3, C=-1).fit(X, y)
    with pytest.raises(ValueError, match="The 'n_classes' parameter of LogisticModel"):
        LogisticModel(1).fit(X, y)
    with pytest.raises(ModelError, match=r"class indices in \[0, 2\)"):
        LogisticModel(2).fit(X, y)
    with pytest.raises(ModelError, match=r"labels have shape \(3,\)"):
        LogisticModel(3).fit(X, y[:3])
    with pytest.raises(ModelError, match="labels must be integers"):
        LogisticModel(3).fit(X, y + 0.5)
    with pytest.raises(ModelError, match="numeric feature matrix"):
        LogisticModel(3).fit(np.array([{"a": 1}] * 3, dtype=object), y[:3])
    model = LogisticModel(3).fit(X, y)
    with pytest.raises(ModelError, match="X has 2 features, the model was fitted on 4"):
        model.predict_proba(X[:, :2])
    assert model.predict_proba(X[:0]).shape == (0, 3)
    np.testing.assert_array_equal(model.embed(X), X)


def test_models_satisfy_the_protocol() -> None:
    assert isinstance(LogisticModel(2), Model)
    assert isinstance(HttpModel("http://m", 2), Model)


# --- plug-ins ------------------------------------------------------------------------------------

PLUGIN_SOURCE = """
import numpy as np

class Prior:
    def __init__(self, n_classes, multi_label=False):
        self.n_classes = n_classes
        self.multi_label = multi_label

    def fit(self, X, y):
        self.prior_ = np.bincount(y, minlength=self.n_classes) / len(y)
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))

class NoProba:
    def fit(self, X, y):
        return self

class Broken:
    def __init__(self, **kwargs):
        raise RuntimeError("no GPU")
    def fit(self, X, y):
        return self
    def predict_proba(self, X):
        return X
"""


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"llplugin_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_load_plugin_builds_the_class(plugin_module: str) -> None:
    model = load_plugin(f"{plugin_module}:Prior", n_classes=3)
    proba = model.fit(np.zeros((4, 1)), np.array([0, 0, 1, 2])).predict_proba(np.zeros((2, 1)))
    np.testing.assert_allclose(proba, [[0.5, 0.25, 0.25]] * 2)


def test_make_model_builds_a_plugin_with_the_label_count(plugin_module: str) -> None:
    model = make_model("plugin", n_classes=3, plugin=f"{plugin_module}:Prior")
    assert type(model).__name__ == "Prior" and model.n_classes == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "must look like 'package.module:Class'"),
        ("llplugin_does_not_exist:Model", "cannot import 'llplugin_does_not_exist'"),
        ("{mod}:Missing", "has no attribute 'Missing'"),
        ("{mod}:NoProba", "lacks predict_proba"),
        ("{mod}:Broken", "could not be created: no GPU"),
    ],
)
def test_load_plugin_errors_are_clear(plugin_module: str, spec: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        load_plugin(spec.format(mod=plugin_module))


def test_make_model_logistic_and_http() -> None:
    model = make_model("logistic", n_classes=3, multi_label=True, C=2.0, random_state=7)
    assert isinstance(model, LogisticModel)
    assert (model.n_classes, model.multi_label, model.C, model.random_state) == (3, True, 2.0, 7)
    http = make_model("http", n_classes=3, url="http://m/predict", timeout_s=5)
    assert isinstance(http, HttpModel)
    assert (http.url, http.n_classes, http.timeout_s) == ("http://m/predict", 3, 5.0)


def test_make_model_warm_starts_only_from_a_logistic_model() -> None:
    X, y = _blobs(0)
    previous = LogisticModel(3).fit(X, y)
    assert make_model("logistic", n_classes=3, warm_start_from=previous).warm_start_from is previous
    seeded = make_model("logistic", n_classes=3, warm_start_from=object())
    assert seeded.warm_start_from is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("plugin", {}, "'plugin' model needs plugin"),
        ("http", {}, "'http' model needs a url"),
        ("forest", {}, "unknown model kind 'forest'; known: http, logistic, plugin"),
    ],
)
def test_make_model_rejects_incomplete_parameters(
    kind: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_model(kind, n_classes=3, **params)


# --- HTTP models -------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def _records(n: int) -> np.ndarray:
    return RecordsFeaturizer().fit_transform([{"id": i, "x": i % 3} for i in range(n)])


def _http(handler: Handler, k: int = 3, **kwargs: Any) -> HttpModel:
    return HttpModel(
        "http://model.test/predict", k, transport=httpx.MockTransport(handler), **kwargs
    )


def test_http_predict_posts_batches_of_256() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        sizes.append(len(items))
        return httpx.Response(
            200, json={"probabilities": [np.eye(3)[it["x"]].tolist() for it in items]}
        )

    proba = _http(handler).predict_proba(_records(600))
    assert sizes == [256, 256, 88]
    np.testing.assert_array_equal(proba.argmax(axis=1), np.arange(600) % 3)
    assert _http(handler).predict_proba(_records(0)).shape == (0, 3)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(500, text="boom"), "answered 500: boom"),
        (httpx.Response(200, json={"probs": []}), "no 'probabilities' key"),
        (httpx.Response(200, text="not json"), "invalid JSON"),
        (
            httpx.Response(200, json={"probabilities": [[0.5, 0.5]]}),
            r"shape \(1, 2\); expected \(2, 3\)",
        ),
        (httpx.Response(200, content=b'{"probabilities": [[NaN, 0.5, 0.5], [1, 0, 0]]}'), "NaN"),
        (
            httpx.Response(200, json={"probabilities": [[1.5, 0, 0], [1, 0, 0]]}),
            r"outside \[0, 1\]",
        ),
        (httpx.Response(200, json={"probabilities": [[0.2, 0.2, 0.2], [1, 0, 0]]}), "sum to 1"),
        (httpx.Response(200, json={"probabilities": [["a", 1, 0], [1, 0, 0]]}), "not a numeric"),
    ],
)
def test_http_predict_rejects_bad_answers(response: httpx.Response, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        _http(lambda request: response).predict_proba(_records(2))


def test_http_connection_failure_and_bad_items() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ModelError, match="request failed: connection refused"):
        _http(handler).predict_proba(_records(1))
    with pytest.raises(ModelError, match="item 0 is ndarray"):
        _http(handler).predict_proba(np.zeros((2, 3)))
    with pytest.raises(ModelError, match="cannot be sent as JSON"):
        _http(handler).predict_proba([{"x": float("nan")}])


def test_http_multi_label_keeps_independent_probabilities() -> None:
    answer = {"probabilities": [[0.9, 0.8, 0.1]]}
    proba = _http(lambda r: httpx.Response(200, json=answer), multi_label=True).predict_proba(
        _records(1)
    )
    np.testing.assert_allclose(proba, [[0.9, 0.8, 0.1]])


def test_http_fit_posts_items_and_labels() -> None:
    seen: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={})

    model = HttpModel("http://model.test/m/", 3, transport=httpx.MockTransport(handler))
    assert model.fit(_records(2), np.array([2, 0])) is model and model.trainable_ is True
    assert seen == [("/m/fit", {"items": [{"id": 0, "x": 0}, {"id": 1, "x": 1}], "labels": [2, 0]})]
    multi = _http(handler, multi_label=True).fit(_records(1), np.array([[1, 0, 1]]))
    assert multi.trainable_ and seen[-1][1]["labels"] == [[1, 0, 1]]


@pytest.mark.parametrize("status", [404, 405])
def test_http_fit_on_an_untrainable_endpoint_is_a_no_op(status: int) -> None:
    model = _http(lambda r: httpx.Response(status)).fit(_records(2), np.array([0, 1]))
    assert model.trainable_ is False


def test_http_fit_errors() -> None:
    with pytest.raises(ModelError, match="answered 503"):
        _http(lambda r: httpx.Response(503)).fit(_records(2), np.array([0, 1]))
    with pytest.raises(ModelError, match="class indices"):
        _http(lambda r: httpx.Response(200)).fit(_records(2), np.array([0, 7]))


# --- persistence -------------------------------------------------------------------------------


def test_round_trip_tfidf_logistic_temperature(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = np.array(["good", "great", "fine", "bad", "awful", "poor", "film", "plot", "the"])
    y = rng.integers(0, 3, size=90)
    texts = [" ".join(rng.choice(words[3 * c : 3 * c + 3], 3)) + " the film" for c in y]
    records = [{"text": t} for t in texts]
    featurizer = TfidfFeaturizer().fit(records)
    X = featurizer.transform(records)
    model = LogisticModel(3, C=3.0).fit(X[:60], y[:60])
    calibrator = TemperatureScaling().fit(model.predict_proba(X[60:]), y[60:])
    meta = {"version": 3, "labels": ["a", "b", "c"], "accuracy": 0.91}
    path = tmp_path / "model-3.npz"
    save_model(path, model=model, featurizer=featurizer, calibrator=calibrator, meta=meta)

    model2, featurizer2, calibrator2, meta2 = load_model(path)
    assert meta2 == meta
    assert calibrator2 is not None and calibrator2.temperature_ == calibrator.temperature_
    new = [{"text": "good film the plot"}, {"text": "awful unseen words"}]
    before = calibrator.transform(model.predict_proba(featurizer.transform(new)))
    after = calibrator2.transform(model2.predict_proba(featurizer2.transform(new)))
    np.testing.assert_array_equal(before, after)
    with np.load(path, allow_pickle=False) as npz:
        assert int(npz["format_version"]) == FORMAT_VERSION
        assert npz["featurizer.vocabulary"].dtype.kind == "U"
        assert not any(npz[name].dtype == object for name in npz.files)


def test_round_trip_numeric_multi_label_without_calibrator(tmp_path: Path) -> None:
    X, y = _blobs(1, k=3)
    records = [{"a": float(r[0]), "b": r[1:].tolist()} for r in X]
    featurizer = NumericFeaturizer(["a", "b"]).fit(records)
    Y = np.stack([y == 0, y == 1, y != 2], axis=1).astype(int)
    model = LogisticModel(3, multi_label=True).fit(featurizer.transform(records), Y)
    path = tmp_path / "m.model"  # no .npz suffix is added
    save_model(path, model=model, featurizer=featurizer, calibrator=None, meta={})
    assert path.exists() and list(tmp_path.iterdir()) == [path]
    model2, featurizer2, calibrator2, _ = load_model(path)
    assert calibrator2 is None
    np.testing.assert_array_equal(
        model.predict_proba(featurizer.transform(records)),
        model2.predict_proba(featurizer2.transform(records)),
    )


def test_round_trip_http_and_plugin_models(tmp_path: Path, plugin_module: str) -> None:
    answer = {"probabilities": [[0.1, 0.9]]}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=answer))
    http = HttpModel("http://m.test/p", 2, timeout_s=4.0, transport=transport)
    save_model(
        tmp_path / "h.npz",
        model=http,
        featurizer=RecordsFeaturizer().fit([]),
        calibrator=None,
        meta={"url": http.url},
    )
    http2, featurizer2, _, _ = load_model(tmp_path / "h.npz", transport=transport)
    assert isinstance(http2, HttpModel) and (http2.url, http2.timeout_s) == (http.url, 4.0)
    np.testing.assert_allclose(http2.predict_proba(featurizer2.transform([{"x": 1}])), [[0.1, 0.9]])

    plugin = load_plugin(f"{plugin_module}:Prior", n_classes=4)
    save_model(
        tmp_path / "p.npz",
        model=plugin,
        featurizer=RecordsFeaturizer().fit([]),
        calibrator=None,
        meta={},
    )
    plugin2, _, _, _ = load_model(tmp_path / "p.npz")
    assert type(plugin2).__name__ == "Prior" and plugin2.n_classes == 4  # type: ignore[attr-defined]


def test_load_rejects_foreign_or_newer_files(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelError, match=r"not an \.npz archive"):
        load_model(tmp_path / "text.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as zf:
        zf.writestr("x.txt", "hi")
    with pytest.raises(ModelError, match="no format_version or header"):
        load_model(tmp_path / "other.npz")
    with (tmp_path / "future.npz").open("wb") as fh:
        np.savez(fh, format_version=np.array(FORMAT_VERSION + 1), header=np.array("{}"))
    with pytest.raises(ModelError, match=f"format_version {FORMAT_VERSION + 1}; this labelloop"):
        load_model(tmp_path / "future.npz")


def test_save_rejects_meta_that_is_not_json(tmp_path: Path) -> None:
    model = LogisticModel(2).fit(np.eye(2), np.array([0, 1]))
    with pytest.raises(ModelError, match="not JSON-serialisable"):
        save_model(
            tmp_path / "m.npz",
            model=model,
            featurizer=RecordsFeaturizer().fit([]),
            calibrator=None,
            meta={"when": object()},
        )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NotFittedError):
        save_model(
            tmp_path / "m.npz",
            model=LogisticModel(2),
            featurizer=RecordsFeaturizer().fit([]),
            calibrator=None,
            meta={},
        )


def test_warm_start_reaches_the_same_solution() -> None:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=400, n_features=20, n_informative=10, n_classes=4, random_state=0
    )
    first = LogisticModel(4).fit(X[:300], y[:300])
    cold = LogisticModel(4).fit(X, y)
    warm = LogisticModel(4, warm_start_from=first).fit(X, y)
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-3)
    assert warm.warm_start_from is None


def test_warm_start_from_a_model_that_saw_fewer_classes() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = np.argmax(X[:, :4], axis=1)
    early = LogisticModel(5).fit(X[y < 3], y[y < 3])
    later = LogisticModel(5, warm_start_from=early).fit(X, y)
    assert later.predict_proba(X).shape == (300, 5)
    assert (later.predict_proba(X).argmax(axis=1) == y).mean() > 0.9
