"""PoseTrack metrics against recorded outputs of the official poseval.

The cases in tests/data/posetrack_poseval/<case>/ (gt/ and pred/: PoseTrack18
JSON, one file per sequence) were evaluated with the official poseval
(leonid-pishchulin/poseval at 4258a1575b9f2ddd0bdb85f74557235ab5df0f52, its
Python 3 version, motmetrics 1.4.0); its unrounded numbers are in
<case>/poseval_output.json. See tests/data/posetrack_poseval/PROVENANCE.md
for how they were made.

Every per-joint and total AP, MOTA, MOTP, precision and recall must agree
within 1e-6 (poseval writes its JSON unrounded; the two differ by ~1e-14 from
summation order). The group columns (Head, Shoulder, ...) are plain means of
poseval's per-joint values, as its printTable computes them, and the printed
one-decimal tables must read the same.

Every predicted joint score in these cases is distinct, so AP does not depend
on how ties are sorted nor on the order of the sequences.
"""

import json
import math
import os
import re

import pytest

from keras_pose.evaluation import posetrack


def _repo_root():
    here = os.path.dirname(os.path.abspath(__file__))
    path = here
    while True:
        if os.path.isdir(os.path.join(path, "tests", "data")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            raise RuntimeError(f"no tests/data above {here}")
        path = parent


DATA = os.path.join(_repo_root(), "tests", "data", "posetrack_poseval")
CASES = ["perfect", "fp_fn", "id_switch", "missing_joints", "ignore_regions", "multi_seq",
         "overlap"]
METRICS = ("AP", "MOTA", "MOTP", "Precision", "Recall")
GROUPS = {"Head": ("head_top", "head_bottom", "nose"),
          "Shoulder": ("right_shoulder", "left_shoulder"),
          "Elbow": ("right_elbow", "left_elbow"), "Wrist": ("right_wrist", "left_wrist"),
          "Hip": ("right_hip", "left_hip"), "Knee": ("right_knee", "left_knee"),
          "Ankle": ("right_ankle", "left_ankle")}
TOL = 1e-6


def _record(case):
    with open(os.path.join(DATA, case, "poseval_output.json")) as f:
        return json.load(f)


def _pairs(case, sequences):
    return [(os.path.join(DATA, case, "gt", s + ".json"),
             os.path.join(DATA, case, "pred", s + ".json")) for s in sequences]


def _ours(pairs):
    metric = posetrack.PoseTrackMetric()
    for gt, pred in pairs:
        metric.update(gt, pred)
    return metric.result()


def _expected(values, joints):
    """Our result keys -> poseval's numbers (16 per metric: 15 joints, total)."""
    out = {}
    for m in METRICS:
        per_joint = dict(zip(joints, values[m]))
        out.update({f"{m}/{j}": per_joint[j] for j in posetrack.JOINT_NAMES})
        out[f"{m}/Total"] = per_joint["total"]
        for group, names in GROUPS.items():
            out[f"{m}/{group}"] = sum(per_joint[n] for n in names) / len(names)
    return out


def _assert_same(got, want, where):
    motmetrics_version = __import__("motmetrics").__version__
    bad = [f"{key}: ours {got[key]!r}, poseval {w!r}" for key, w in want.items()
           if not (math.isnan(w) and math.isnan(got[key])) and not abs(got[key] - w) <= TOL]
    assert not bad, (f"{where}: {len(bad)} of {len(want)} numbers differ from poseval "
                     f"(motmetrics {motmetrics_version}; poseval's MOTP differs "
                     "under motmetrics < 1.2):\n" + "\n".join(bad))


def test_all_cases_are_recorded():
    assert sorted(d for d in os.listdir(DATA)
                  if os.path.isdir(os.path.join(DATA, d))) == sorted(CASES)


def test_recorded_joint_order_is_ours():
    for case in CASES:
        joints = _record(case)["joints_posetrack18"]
        assert joints == list(posetrack.JOINT_NAMES) + ["total"], case


@pytest.mark.parametrize("case", CASES)
def test_matches_poseval(case):
    record = _record(case)
    want = _expected(record["total"], record["joints_posetrack18"])
    # The sequences in poseval's (directory listing) order ...
    _assert_same(_ours(_pairs(case, record["sequence_order"])), want, case)
    # ... and as the command line pairs them (sorted file names).
    pairs = posetrack.sequence_pairs(os.path.join(DATA, case, "gt"),
                                     os.path.join(DATA, case, "pred"))
    assert sorted(os.path.basename(g)[:-5] for g, _ in pairs) == sorted(
        record["sequence_order"])
    _assert_same(_ours(pairs), want, f"{case} (sorted sequences)")


@pytest.mark.parametrize("case", CASES)
def test_matches_poseval_per_sequence(case):
    # poseval's --saveEvalPerSequence numbers: each sequence alone.
    record = _record(case)
    assert sorted(record["per_sequence"]) == sorted(record["sequence_order"])
    for sequence, values in record["per_sequence"].items():
        want = _expected(values, record["joints_posetrack18"])
        _assert_same(_ours(_pairs(case, [sequence])), want, f"{case}/{sequence}")


def _numbers(row):
    return re.findall(r"-?\d+\.\d|nan", row)


@pytest.mark.parametrize("case", CASES)
def test_table_reads_as_poseval_prints_it(case):
    record = _record(case)
    table = posetrack.format_table(_ours(_pairs(case, record["sequence_order"])))
    rows = [line for line in table.splitlines() if line.startswith("| ")
            and not line.startswith(("| Head", "| MOTA"))]
    assert [_numbers(r) for r in rows] == [
        _numbers(record["printed_tables"]["AP"][-1]),
        _numbers(record["printed_tables"]["MOT"][-1])]
