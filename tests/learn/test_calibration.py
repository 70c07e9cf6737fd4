"""Temperature scaling and the expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.naive_bayes import GaussianNB

from labelloop.errors import ModelError, NotFittedError
from labelloop.learn.calibration import TemperatureScaling, expected_calibration_error

SEEDS = [0, 1, 2]


def _over_confident(seed: int, n: int, k: int = 4, sharpen: float = 3.0):
    """True logits z, labels drawn from softmax(z), a model that reports softmax(sharpen * z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=1.5, size=(n, k))
    p_true = softmax(z, axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(p_true, axis=1)).sum(axis=1)
    return softmax(sharpen * z, axis=1), y


def _split_problem(seed: int, k: int, **kwargs: int):
    X, y = make_classification(
        n_samples=1000,
        n_features=20,
        n_informative=3,
        n_classes=k,
        n_clusters_per_class=1,
        flip_y=0.1,
        random_state=seed,
        **kwargs,
    )
    return (X[:60], y[:60]), (X[200:600], y[200:600]), X[600:]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3])
def test_agrees_with_sklearn_on_an_over_fitted_logistic_regression(seed: int, k: int) -> None:
    (X_fit, y_fit), (X_hold, y_hold), X_test = _split_problem(seed, k)
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(X_fit, y_fit)
    ours = TemperatureScaling().fit(clf.predict_proba(X_hold), y_hold)
    ref = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature").fit(X_hold, y_hold)
    np.testing.assert_allclose(
        ours.transform(clf.predict_proba(X_test)), ref.predict_proba(X_test), atol=1e-3
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3])
def test_agrees_with_sklearn_on_over_confident_naive_bayes(seed: int, k: int) -> None:
    (X_fit, y_fit), (X_hold, y_hold), X_test = _split_problem(seed, k, n_redundant=6)
    clf = GaussianNB().fit(X_fit, y_fit)
    ours = TemperatureScaling().fit(clf.predict_proba(X_hold), y_hold)
    ref = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature").fit(X_hold, y_hold)
    assert ours.temperature_ > 1  # naive Bayes is over-confident here
    np.testing.assert_allclose(
        ours.transform(clf.predict_proba(X_test)), ref.predict_proba(X_test), atol=1e-3
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_recovers_the_temperature_and_lowers_nll_and_ece(seed: int) -> None:
    hold_p, hold_y = _over_confident(seed, 2000)
    test_p, test_y = _over_confident(seed + 100, 2000)
    cal = TemperatureScaling().fit(hold_p, hold_y)
    assert cal.temperature_ == pytest.approx(3.0, rel=0.15)
    fixed = cal.transform(test_p)
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0)
    labels = np.arange(4)
    assert log_loss(test_y, fixed, labels=labels) < log_loss(test_y, test_p, labels=labels)
    ece_before = expected_calibration_error(test_p, test_y)
    ece_after = expected_calibration_error(fixed, test_y)
    assert ece_after < ece_before / 2


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_label_has_one_temperature_per_label(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(3000, 4))
    y = (rng.random(z.shape) < expit(z)).astype(int)
    y[:, 3] = 0  # a label never on in the holdout keeps T = 1
    sharpen = np.array([0.5, 1.0, 3.0, 2.0])
    cal = TemperatureScaling(multi_label=True).fit(expit(z * sharpen), y)
    np.testing.assert_allclose(cal.temperature_, [0.5, 1.0, 3.0, 1.0], rtol=0.15)
    proba = cal.transform(expit(z * sharpen))
    np.testing.assert_allclose(proba[:, :3], expit(z[:, :3]), atol=0.1)
    assert expected_calibration_error(proba[:, :3], y[:, :3]) < expected_calibration_error(
        expit(z * sharpen)[:, :3], y[:, :3]
    )


def test_state_round_trip() -> None:
    p, y = _over_confident(0, 300)
    for cal in (
        TemperatureScaling().fit(p, y),
        TemperatureScaling(multi_label=True).fit(p, p > 0.5),
    ):
        again = TemperatureScaling.from_state(cal.get_state())
        np.testing.assert_array_equal(again.transform(p), cal.transform(p))


def test_errors() -> None:
    p, y = _over_confident(0, 50)
    with pytest.raises(NotFittedError, match="TemperatureScaling is not fitted"):
        TemperatureScaling().transform(p)
    with pytest.raises(ModelError, match="at least one held-out item"):
        TemperatureScaling().fit(p[:0], y[:0])
    with pytest.raises(ModelError, match="do not sum to 1"):
        TemperatureScaling().fit(p * 0.5, y)
    with pytest.raises(ModelError, match=r"class indices in \[0, 4\)"):
        TemperatureScaling().fit(p, y + 4)
    cal = TemperatureScaling().fit(p, y)
    with pytest.raises(ModelError, match="calibration was fitted on 4"):
        cal.transform(p[:, :3] / p[:, :3].sum(axis=1, keepdims=True))
    with pytest.raises(ModelError, match="temperature scaling state has bad temperatures"):
        TemperatureScaling.from_state({"multi_label": False, "n_classes": 4, "temperature": [-1.0]})


def test_expected_calibration_error_known_values() -> None:
    proba = np.tile([0.8, 0.2], (10, 1))
    eight_right = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(proba, eight_right) == pytest.approx(0.0)
    assert expected_calibration_error(np.tile([1.0, 0.0], (4, 1)), np.ones(4, int)) == 1.0
    # two bins: confidence 0.6 with accuracy 1/2 (gap 0.1), confidence 0.9 with accuracy 1 (0.1)
    proba = np.array([[0.6, 0.4], [0.6, 0.4], [0.9, 0.1], [0.1, 0.9]])
    assert expected_calibration_error(proba, np.array([0, 1, 0, 1])) == pytest.approx(0.1)
    multi = np.array([[0.9, 0.1], [0.9, 0.1]])
    assert expected_calibration_error(multi, np.array([[1, 0], [1, 0]])) == pytest.approx(0.1)
    assert expected_calibration_error(np.zeros((0, 3)), np.zeros(0, int)) == 0.0
    with pytest.raises(ValueError, match="The 'n_bins' parameter of expected_calibration_error"):
        expected_calibration_error(proba, np.array([0, 1, 0, 1]), n_bins=0)
