"""Transfer metrics against cases worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from evaluations.transfer.metrics import mean_per_class_accuracy, score, top1, voc11_ap, voc11_map


def test_voc11_ap_hand_computed():
    # Six images, three positives. Ranked by score (0.9, 0.8, 0.7, 0.6, 0.5, 0.4) the labels are
    # 1 0 1 0 0 1, so at each rank:
    #   rank  tp fp  precision  recall
    #    1     1  0    1         1/3
    #    2     1  1    1/2       1/3
    #    3     2  1    2/3       2/3
    #    4     2  2    1/2       2/3
    #    5     2  3    2/5       2/3
    #    6     3  3    1/2       1
    # Interpolated precision p(t) = max precision over ranks with recall >= t:
    #   t = 0, .1, .2, .3     -> all ranks         -> 1
    #   t = .4, .5, .6        -> ranks 3..6        -> 2/3
    #   t = .7, .8, .9, 1     -> rank 6            -> 1/2
    # AP = (4 * 1 + 3 * 2/3 + 4 * 1/2) / 11 = 8/11.
    y = np.array([0, 1, 1, 0, 0, 1])           # given out of rank order on purpose
    s = np.array([0.5, 0.9, 0.7, 0.6, 0.8, 0.4])
    assert voc11_ap(y, s) == pytest.approx(8 / 11)


def test_voc11_ap_recall_exactly_on_a_recall_point():
    # Ten positives: three first (recall .1 .2 .3 at precision 1), three negatives (recall stays
    # .3, precision 3/4 3/5 3/6), then the other seven positives: precision 4/7 .. 10/13, rising.
    # p(t) = 1 for t = 0 .. .3 (rank 3 has recall exactly .3 >= .3), and 10/13 for t = .4 .. 1.
    # AP = (4 + 7 * 10/13) / 11 = 122/143. (Comparing recall 3/10 with the float 0.1 * 3 without a
    # tolerance would drop rank 3 at t = .3 and give (3 + 8 * 10/13) / 11 instead.)
    y = np.array([1, 1, 1, 0, 0, 0] + [1] * 7)
    s = -np.arange(len(y), dtype=float)
    assert voc11_ap(y, s) == pytest.approx(122 / 143)


def test_voc11_ap_ties_keep_input_order_and_extremes():
    assert voc11_ap([1, 1, 0], [3.0, 2.0, 1.0]) == pytest.approx(1.0)
    # all scores tied: ranks are the input order (stable sort, as MATLAB's sort in the devkit):
    # labels 0 1 -> precision 0 then 1/2 at recall 0 then 1 -> p(t) = 1/2 for every t
    assert voc11_ap([0, 1], [1.0, 1.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        voc11_ap([0, 0], [1.0, 2.0])


def test_voc11_map_averages_classes_with_positives():
    y = np.array([[0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]])
    s = np.array([[0.5, 0.9, 0.1], [0.9, 0.8, 0.2], [0.7, 0.1, 0.3], [0.6, 0.2, 0.4], [0.8, 0.3, 0.5],
                  [0.4, 0.4, 0.6]])
    # class 0 is the 8/11 case above, class 1 ranks its two positives first (AP 1), class 2 has
    # no positive and is left out: mAP = (8/11 + 1) / 2 = 19/22
    assert voc11_map(y, s) == pytest.approx(19 / 22)
    assert score("map11", y, s) == pytest.approx(100 * 19 / 22)


def test_mean_per_class_and_top1_hand_computed():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2])
    # per class: 3/4, 1/2, 1/1 -> mean 0.75; overall 5/7 correct
    assert mean_per_class_accuracy(y_true, y_pred) == pytest.approx(0.75)
    assert top1(y_true, y_pred) == pytest.approx(5 / 7)
    scores = np.eye(3)[y_pred] + 0.1  # argmax = y_pred
    assert score("mean_per_class", y_true, scores) == pytest.approx(75.0)
    assert score("top1", y_true, scores) == pytest.approx(500 / 7)
    with pytest.raises(ValueError):
        score("top5", y_true, scores)
