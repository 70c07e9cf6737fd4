"""One contract suite over every registered query strategy, then behaviour tests per strategy.

Set ``LABELLOOP_TEST_SEED`` to run with another random seed; every test must pass for any.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from scipy.stats import entropy as scipy_entropy
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from labelloop.errors import EmptyPoolError
from labelloop.learn.strategies import (
    STRATEGIES,
    DensityClusterMargin,
    Entropy,
    ExpectedGradientLength,
    KCenterGreedy,
    LeastConfidence,
    Margin,
    MarginKCenter,
    Pool,
    QueryStrategy,
    RandomSampling,
    k_center_greedy,
    knn_density,
    make_strategy,
    top_n,
)
from labelloop.learn.strategies.kcenter import min_sq_distances

N_POOL = 30
NAMES = sorted(STRATEGIES)


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("LABELLOOP_TEST_SEED", "0"))


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def make_pool(rng: np.random.Generator, n_pool: int = N_POOL, *, multi_label: bool = False) -> Pool:
    """A pool with every input filled in: 3 classes (or 4 labels), 5-D embeddings and features."""
    proba = rng.random((n_pool, 4)) if multi_label else rng.dirichlet(np.ones(3), size=n_pool)
    return Pool(
        proba=proba,
        embeddings=rng.normal(size=(n_pool, 5)),
        labelled_embeddings=rng.normal(size=(8, 5)),
        features=rng.normal(size=(n_pool, 5)),
        multi_label=multi_label,
    )


def build(name: str, seed: int) -> QueryStrategy:
    """The strategy registered as ``name``, seeded when it takes a ``random_state``."""
    params = STRATEGIES[name]().get_params()
    return make_strategy(name, **({"random_state": seed} if "random_state" in params else {}))


# --- the contract every registered strategy keeps -------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("n", [1, 7, N_POOL, N_POOL + 5])
def test_returns_min_n_pool_unique_indices(name, multi_label, n, rng, seed):
    chosen = build(name, seed).select(make_pool(rng, multi_label=multi_label), n)
    assert chosen.dtype.kind == "i"
    assert chosen.shape == (min(n, N_POOL),)
    assert len(np.unique(chosen)) == len(chosen)
    assert ((chosen >= 0) & (chosen < N_POOL)).all()


@pytest.mark.parametrize("name", NAMES)
def test_empty_pool_raises(name, rng, seed):
    empty = Pool(
        proba=np.empty((0, 3)),
        embeddings=np.empty((0, 5)),
        labelled_embeddings=rng.normal(size=(4, 5)),
        features=np.empty((0, 5)),
    )
    with pytest.raises(EmptyPoolError):
        build(name, seed).select(empty, 5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, -3, 2.5, True, "3"])
def test_bad_n_raises_with_the_message_pattern(name, n, rng, seed):
    owner = STRATEGIES[name].__name__
    message = f"The 'n' parameter of {owner} must be an int >= 1. Got {n!r} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build(name, seed).select(make_pool(rng), n)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_fixed_random_state(name, rng, seed):
    pool = make_pool(rng)
    first = build(name, seed).select(pool, 10)
    np.testing.assert_array_equal(first, build(name, seed).select(pool, 10))


@pytest.mark.parametrize("name", NAMES)
def test_missing_input_is_named(name, rng, seed):
    strategy = build(name, seed)
    for field in strategy.requires:
        pool = dataclasses.replace(make_pool(rng), **{field: None})
        with pytest.raises(ValueError, match=f"needs Pool.{field}"):
            strategy.select(pool, 3)


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_parameters(name, seed):
    strategy = build(name, seed)
    assert clone(strategy).get_params() == strategy.get_params()
    assert not [key for key in vars(strategy) if key.endswith("_")]


def test_make_strategy_lists_known_names():
    with pytest.raises(ValueError, match=r"Unknown query strategy 'nope'\. Known: ") as info:
        make_strategy("nope")
    assert all(name in str(info.value) for name in STRATEGIES)
    assert isinstance(make_strategy("hybrid", beta=3), MarginKCenter)


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (MarginKCenter(beta=0), "The 'beta' parameter of MarginKCenter must be an int >= 1."),
        (KCenterGreedy(chunk_size=-1), "The 'chunk_size' parameter of KCenterGreedy must be"),
        (
            DensityClusterMargin(gamma=-1.0),
            "The 'gamma' parameter of DensityClusterMargin must be a float >= 0. Got -1.0 instead.",
        ),
    ],
)
def test_bad_parameters_raise_at_select(strategy, message, rng):
    with pytest.raises(ValueError, match=re.escape(message)):
        strategy.select(make_pool(rng), 3)


def test_pool_rejects_inconsistent_arrays(rng):
    with pytest.raises(ValueError, match="one row per candidate"):
        Pool(proba=rng.random((4, 2)), embeddings=rng.random((5, 3)))
    with pytest.raises(ValueError, match="at least one of"):
        Pool()
    with pytest.raises(ValueError, match="must be finite"):
        Pool(proba=np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="labelled_embeddings must have 3 columns"):
        Pool(embeddings=rng.random((4, 3)), labelled_embeddings=rng.random((2, 4)))


# --- behaviour ------------------------------------------------------------------------------


def test_top_n_matches_a_stable_full_sort(rng):
    scores = rng.integers(0, 6, size=200).astype(float)  # many ties
    for n in (1, 13, 200):
        np.testing.assert_array_equal(top_n(scores, n), np.argsort(-scores, kind="stable")[:n])


def test_margin_picks_the_smallest_top2_gap(rng):
    proba = rng.dirichlet(np.ones(4), size=50)
    ordered = np.sort(proba, axis=1)
    gap = ordered[:, -1] - ordered[:, -2]
    chosen = Margin().select(Pool(proba=proba), 10)
    np.testing.assert_array_equal(chosen, np.argsort(gap, kind="stable")[:10])


def test_least_confidence_picks_the_lowest_top_probability(rng):
    proba = rng.dirichlet(np.ones(4), size=50)
    chosen = LeastConfidence().select(Pool(proba=proba), 10)
    np.testing.assert_array_equal(chosen, np.argsort(proba.max(axis=1), kind="stable")[:10])


def test_entropy_matches_scipy(rng):
    proba = rng.dirichlet(np.ones(5), size=40)
    proba[0] = [1.0, 0.0, 0.0, 0.0, 0.0]  # 0 log 0 = 0
    expected = scipy_entropy(proba, axis=1)
    np.testing.assert_allclose(Entropy().scores(Pool(proba=proba)), expected, atol=1e-12)
    chosen = Entropy().select(Pool(proba=proba), 5)
    np.testing.assert_array_equal(chosen, np.argsort(-expected, kind="stable")[:5])


def test_multi_label_scores_average_binary_scores(rng):
    proba = rng.random((20, 3))
    pool = Pool(proba=proba, multi_label=True)
    np.testing.assert_allclose(Margin().scores(pool), (1 - np.abs(2 * proba - 1)).mean(axis=1))
    binary = np.stack([proba, 1 - proba], axis=-1)
    np.testing.assert_allclose(Entropy().scores(pool), scipy_entropy(binary, axis=2).mean(axis=1))


def test_random_sampling_depends_on_the_seed_only(seed):
    pool = Pool(proba=np.full((1000, 2), 0.5))
    a = RandomSampling(random_state=seed).select(pool, 20)
    b = RandomSampling(random_state=np.random.default_rng(seed)).select(pool, 20)
    np.testing.assert_array_equal(a, b)
    assert set(a) != set(RandomSampling(random_state=seed + 1).select(pool, 20))


def naive_k_center(X, centres, n, first):
    """O(n^2) reference: full distance matrices, no chunks, no tricks."""
    dist = cdist(X, centres).min(axis=1) if len(centres) else np.full(len(X), np.inf)
    chosen = []
    pick = first if not len(centres) else int(np.argmax(dist))
    full = cdist(X, X)
    for _ in range(n):
        chosen.append(pick)
        dist = np.minimum(dist, full[pick])
        dist[chosen] = -1.0
        pick = int(np.argmax(dist))
    return np.array(chosen)


def test_k_center_picks_far_points_on_a_toy_set(rng):
    near = rng.normal(scale=0.1, size=(20, 2))
    far = np.array([[-10.0, -10.0], [10.0, 0.0], [0.0, 9.0]])
    pool = Pool(embeddings=np.vstack([near, far]), labelled_embeddings=np.zeros((1, 2)))
    np.testing.assert_array_equal(KCenterGreedy().select(pool, 3), [20, 21, 22])


@pytest.mark.parametrize("n_labelled", [0, 1, 25])
def test_k_center_matches_a_naive_reference(n_labelled, rng, seed):
    X = rng.normal(size=(120, 6))
    centres = rng.normal(size=(n_labelled, 6))
    pool = Pool(embeddings=X, labelled_embeddings=centres if n_labelled else None)
    chosen = KCenterGreedy(random_state=seed, chunk_size=7).select(pool, 30)
    first = int(np.random.default_rng(seed).integers(120))
    np.testing.assert_array_equal(chosen, naive_k_center(X, centres, 30, first))


def test_min_sq_distances_in_chunks_match_cdist(rng):
    X, centres = rng.normal(size=(53, 4)), rng.normal(size=(17, 4))
    got = min_sq_distances(X, centres, (X**2).sum(axis=1), chunk_size=5)
    np.testing.assert_allclose(got, cdist(X, centres, "sqeuclidean").min(axis=1), rtol=1e-10)


def test_k_center_takes_every_point_of_duplicates():
    X = np.zeros((6, 3))
    assert sorted(k_center_greedy(X, None, 6, first=2)) == list(range(6))


def test_hybrid_is_diverse_among_the_most_uncertain(rng):
    # Two tight clusters of equally uncertain candidates plus confident ones far away.
    uncertain = np.vstack([rng.normal(0, 0.01, (10, 2)), rng.normal(5, 0.01, (10, 2))])
    confident = rng.normal(-20, 1.0, (20, 2))
    proba = np.vstack([np.full((20, 2), 0.5), np.tile([0.99, 0.01], (20, 1))])
    pool = Pool(proba=proba, embeddings=np.vstack([uncertain, confident]))
    chosen = MarginKCenter(beta=10).select(pool, 2)
    assert sorted(chosen // 10) == [0, 1]  # one from each uncertain cluster
    np.testing.assert_array_equal(MarginKCenter(beta=1).select(pool, 4) < 20, True)


def brute_force_egl(clf: LogisticRegression, x: np.ndarray) -> float:
    """Sum over y of p(y|x) times the norm of the finite-difference log-loss gradient."""
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    proba = clf.predict_proba(x[None])[0]
    eps = 1e-6

    def loss(params: np.ndarray, label: int) -> float:
        clf.coef_ = params[:, :-1].copy()
        clf.intercept_ = params[:, -1].copy()
        return -np.log(clf.predict_proba(x[None])[0, label])

    base = np.hstack([coef, intercept[:, None]])
    total = 0.0
    for label, p in enumerate(proba):
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += eps
            down[index] -= eps
            grad[index] = (loss(up, label) - loss(down, label)) / (2 * eps)
        total += p * np.linalg.norm(grad)
    clf.coef_, clf.intercept_ = coef, intercept
    return total


def test_expected_gradient_length_matches_brute_force(rng):
    X = rng.normal(size=(60, 4))
    y = np.argmax(X[:, :3] + rng.normal(scale=0.5, size=(60, 3)), axis=1)
    clf = LogisticRegression(C=0.5).fit(X, y)
    candidates = rng.normal(size=(6, 4))
    pool = Pool(proba=clf.predict_proba(candidates), features=candidates)
    expected = [brute_force_egl(clf, x) for x in candidates]
    np.testing.assert_allclose(ExpectedGradientLength().scores(pool), expected, rtol=1e-5)


def test_expected_gradient_length_accepts_sparse_features(rng):
    dense = rng.random((25, 8)) * (rng.random((25, 8)) < 0.3)
    proba = rng.dirichlet(np.ones(3), size=25)
    strategy = ExpectedGradientLength(fit_intercept=False)
    np.testing.assert_allclose(
        strategy.scores(Pool(proba=proba, features=sp.csr_array(dense))),
        strategy.scores(Pool(proba=proba, features=dense)),
    )
    chosen = strategy.select(Pool(proba=proba, features=sp.csr_matrix(dense)), 5)
    assert len(set(chosen)) == 5


def test_expected_gradient_length_ranks_binary_like_sklearn_binary_model(rng):
    # sklearn fits one weight vector for two classes: expected norm 2 p (1 - p) ||(x, 1)||.
    X = rng.normal(size=(40, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] + rng.normal(size=40) > 0).astype(int))
    candidates = rng.normal(size=(30, 3))
    p = clf.predict_proba(candidates)[:, 1]
    reference = 2 * p * (1 - p) * np.sqrt((candidates**2).sum(axis=1) + 1)
    pool = Pool(proba=clf.predict_proba(candidates), features=candidates)
    np.testing.assert_allclose(ExpectedGradientLength().scores(pool), np.sqrt(2) * reference)
    multi = Pool(proba=p[:, None], features=candidates, multi_label=True)
    np.testing.assert_allclose(ExpectedGradientLength().scores(multi), reference)


@pytest.mark.parametrize("strategy", [Entropy(), Margin(), LeastConfidence()])
def test_float32_probabilities_near_one_half_are_ranked_not_tied(strategy, rng):
    p = (0.5 + rng.uniform(-1e-3, 1e-3, size=200)).astype(np.float32)
    proba = np.stack([p, 1 - p], axis=1)
    distance = np.abs(p.astype(np.float64) / (p + (1 - p)).astype(np.float64) - 0.5)
    expected = np.argsort(distance, kind="stable")[:10]
    np.testing.assert_array_equal(strategy.select(Pool(proba=proba), 10), expected)


def test_knn_density_in_chunks_matches_brute_force(rng):
    pool = rng.normal(size=(57, 6))
    candidates = pool[[3, 10, 40]]
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    similarity = np.sort(unit[[3, 10, 40]] @ unit.T, axis=1)[:, -5:]
    expected = np.maximum(similarity.mean(axis=1), 0.0)
    np.testing.assert_allclose(knn_density(candidates, pool, 4, chunk_size=5), expected, atol=1e-6)


def test_density_cluster_prefers_dense_candidates_to_outliers(rng):
    # An uncertain outlier (gap 0) against a dense cluster of slightly less uncertain ones.
    cluster = np.array([1.0, 0.0]) + rng.normal(scale=0.01, size=(20, 2))
    outlier = np.array([[-1.0, 0.05]])
    proba = np.vstack([np.tile([0.55, 0.45], (20, 1)), [[0.5, 0.5]]])
    pool = Pool(proba=proba, embeddings=np.vstack([cluster, outlier]))
    assert Margin().select(pool, 1)[0] == 20
    assert DensityClusterMargin(n_neighbors=5, random_state=0).select(pool, 1)[0] < 20


def test_density_cluster_takes_one_per_cluster(rng, seed):
    centres = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])
    embeddings = np.repeat(centres, 10, axis=0) + rng.normal(scale=0.05, size=(30, 2))
    proba = np.tile([0.5, 0.5], (30, 1))
    chosen = DensityClusterMargin(random_state=seed).select(Pool(proba, embeddings), 3)
    assert sorted(chosen // 10) == [0, 1, 2]


def test_density_cluster_handles_duplicates_without_warnings(seed):
    pool = Pool(proba=np.tile([0.6, 0.4], (12, 1)), embeddings=np.ones((12, 3)))
    chosen = DensityClusterMargin(random_state=seed).select(pool, 5)
    assert len(set(chosen)) == 5
