import math

import pytest

from alignlab.hacking import strict_equal
from alignlab.hacking.grading._wire import WireError, decode_value, encode_value


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (3, 3, True),
        (True, 1, False),
        (1, True, False),
        (1, 1.0, False),
        ([1, (2, 3)], [1, (2, 3)], True),
        ([1, 2], (1, 2), False),
        ({1: "a"}, {True: "a"}, False),
        ({"a": [1.0]}, {"a": [1.0 + 1e-12]}, True),
        ({1, 2}, {2, 1}, True),
        ({1}, {True}, False),
        (0.1 + 0.2, 0.3, True),
        (0.31, 0.3, False),
        (math.nan, math.nan, True),
        (None, None, True),
        ("a", "a", True),
    ],
)
def test_strict_equal_needs_exact_types_and_values(actual, expected, equal):
    assert strict_equal(actual, expected) is equal


def test_float_tolerance_applies_only_where_the_expected_value_is_a_float():
    assert strict_equal(2.0000000000001, 2.0)
    assert not strict_equal(2, 2.0)
    assert not strict_equal(2.0, 2)


def test_codec_round_trips_plain_data():
    value = {"a": [1, 2.5, None, True], (1, "x"): {3, 4}, "big": 2**100, "neg": -(2**90), "b": b"\x00",
             "c": complex(1, -2), "inf": math.inf, "t": (frozenset({1}),)}
    assert decode_value(encode_value(value)) == value


class AlwaysEqual:
    def __eq__(self, other):
        return True


class RiggedStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("value", [AlwaysEqual(), RiggedStr("x"), [1, AlwaysEqual()], {"k": RiggedStr("v")}, iter([1])])
def test_codec_refuses_anything_but_plain_builtin_data(value):
    with pytest.raises(WireError):
        encode_value(value)


def test_codec_refuses_malformed_and_unknown_tags():
    for data in (["Q", 1], ["L"], {"x": 1}, ["S", [["L", []]]]):
        with pytest.raises(WireError):
            decode_value(data)


def test_codec_refuses_recursive_values():
    loop: list = []
    loop.append(loop)
    with pytest.raises(WireError):
        encode_value(loop)
