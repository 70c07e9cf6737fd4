"""Inter-annotator agreement over long tables (item, annotator, label), one measure per module.

* :func:`cohen_kappa` — two raters on the same items, unweighted or linear/quadratic weighted;
* :func:`fleiss_kappa` — many raters, the same number per item, from a count matrix;
* :func:`krippendorff_alpha` — any raters per item, missing values, nominal to ratio levels;
* :func:`pairwise_cohen` — kappa and shared items of every annotator pair;
* :func:`per_label_agreement` — one-vs-rest nominal alpha for each label;
* :func:`by_slice` — any of these per metadata slice;
* :func:`bootstrap_interval` — a confidence interval over items for any of these;
* :func:`alpha_interval` — alpha and that interval, fast enough for millions of answers.
"""

from labelloop.quality.agreement.alpha import alpha_interval, krippendorff_alpha
from labelloop.quality.agreement.bootstrap import Interval, bootstrap_interval
from labelloop.quality.agreement.cohen import cohen_kappa
from labelloop.quality.agreement.fleiss import FleissKappa, fleiss_kappa
from labelloop.quality.agreement.pairwise import PairwiseKappa, pairwise_cohen
from labelloop.quality.agreement.per_label import per_label_agreement
from labelloop.quality.agreement.slices import by_slice

__all__ = [
    "FleissKappa",
    "Interval",
    "PairwiseKappa",
    "alpha_interval",
    "bootstrap_interval",
    "by_slice",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "pairwise_cohen",
    "per_label_agreement",
]
