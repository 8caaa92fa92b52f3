"""keras_pose.json_values: what json.load gives that numpy and the metrics
do not take."""

import json

from keras_pose.json_values import NUMBER_TYPES, all_finite, fits_int64, is_int


def test_a_bool_is_neither_an_int_nor_a_number():
    assert is_int(3) and not is_int(True) and not is_int(3.0)
    assert type(True) not in NUMBER_TYPES and type(2.5) in NUMBER_TYPES


def test_ids_are_kept_as_int64_up_to_its_bounds():
    assert fits_int64(2 ** 63 - 1) and fits_int64(-2 ** 63)
    assert not fits_int64(2 ** 63) and not fits_int64(-2 ** 63 - 1)


def test_infinities_nans_and_ints_beyond_a_float_are_not_finite():
    assert all_finite([0, 1.5, 2 ** 60])
    values = json.loads("[1, NaN, Infinity]")
    assert not all_finite(values[:2]) and not all_finite(values[2:])
    assert not all_finite([10 ** 400])  # OverflowError inside math.isfinite.
