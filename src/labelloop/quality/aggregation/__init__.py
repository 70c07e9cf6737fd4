"""Truth inference: each item's label, with a posterior, from the labels several people gave it.

Every aggregator takes the long table (item, annotator, label) and follows one contract
(:class:`Aggregator`): ``fit`` returns self; ``labels_`` and ``posteriors_`` follow ``item_ids_``;
``results()`` gives the long table item, label, posterior back; ``posterior(votes)`` scores a
new item's answers under what the fit learned (:mod:`~labelloop.quality.aggregation.posterior`).

* ``majority``    — :class:`MajorityVote`, optionally weighted by given annotator ``weights``;
* ``wawa``        — :class:`Wawa`, a vote weighted by agreement with the majority;
* ``one-coin``    — :class:`OneCoinDawidSkene`, one accuracy per annotator, EM;
* ``dawid-skene`` — :class:`DawidSkene`, a confusion matrix per annotator, EM.
"""

from labelloop.quality.aggregation.base import Aggregator
from labelloop.quality.aggregation.dawid_skene import DawidSkene
from labelloop.quality.aggregation.majority import MajorityVote, weighted_vote
from labelloop.quality.aggregation.one_coin import OneCoinDawidSkene
from labelloop.quality.aggregation.posterior import AnswerModel, Posterior
from labelloop.quality.aggregation.registry import AGGREGATORS, make_aggregator
from labelloop.quality.aggregation.wawa import Wawa

__all__ = [
    "AGGREGATORS",
    "Aggregator",
    "AnswerModel",
    "DawidSkene",
    "MajorityVote",
    "OneCoinDawidSkene",
    "Posterior",
    "Wawa",
    "make_aggregator",
    "weighted_vote",
]
