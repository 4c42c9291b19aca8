"""The axis resolver (ir/layers/axes.py) on RETURNN's notation, as `Data.get_axes_from_description` answers it."""

from __future__ import annotations

import pytest
from netc.ir.layers.axes import Axes, SetAxes
from netc.ir.types import (
    BATCH,
    Derived,
    DimKind,
    LengthRule,
    TensorType,
    TimeAxis,
    feature_dim,
    spatial_dim,
    time_dim,
)

SPLIT = TensorType((BATCH, time_dim(TimeAxis.DATA), spatial_dim(2), feature_dim(3)))  # [B, T, 2, 3]
POOLED = TensorType((BATCH, time_dim(Derived(TimeAxis.DATA, LengthRule(stride=2))), feature_dim(4)))
NO_TIME = TensorType((BATCH, spatial_dim(5), feature_dim(3)))


@pytest.mark.parametrize("description, expected", [
    ("B", [0]), ("batch", [0]), ("T", [1]), ("time", [1]), ("F", [3]), ("feature", [3]), ("non_spatial", [3]),
    ("spatial", [1, 2]), ("spatial:0", [1]), ("s:1", [2]), ("spatial:-1", [2]), ("spatial_except_time", [2]),
    ("static", [2, 3]), ("static:0", [2]), ("static:-1", [3]), ("dim:2", [2]), ("dim:3", [3]),
    ("except_time", [2, 3]), ("except_batch", [1, 2, 3]), ("except_batch:1", [2]), ("dyn", [1]), ("d:0", [1]),
    ("T?", [1]), ("*", [0, 1, 2, 3]), ("TF", [1, 3]), ("BT", [0, 1]), ("stag:time", [1]),
    ("stag:extern_data:data", [1]), ("stag:TIME", [1]), (2, [2]), (-1, [3]), (["F", "T"], [3, 1]),
    (["T", "spatial"], [1, 2]),
])
def test_descriptions_resolve_as_returnn(description: object, expected: list[int]) -> None:
    assert Axes.from_config(description).resolve(SPLIT) == expected


def test_a_derived_time_axis_keeps_its_root_tag_name() -> None:
    """RETURNN matches a tag's `get_same_base().description` too: a pooled time axis is still 'stag:time'."""
    assert Axes.from_config("stag:time").resolve(POOLED) == [1]
    assert Axes.from_config("stag:data").resolve_one(POOLED) == 1


@pytest.mark.parametrize("description, words", [
    ("spatial:2", ["2 such axes", "its axes are", "'spatial:1'"]),
    ("dim:7", ["0 axes of that size"]),
    ("stag:classes", ["no spatial axis", "time:var:extern_data:data"]),
    ("stag:split", ["'spatial:i'"]),
    (4, ["out of range", "its axes are"]),
    ("nonsense", ["unknown axis description", "'stag:time'"]),
])
def test_missing_axes_say_which_exist(description: object, words: list[str]) -> None:
    with pytest.raises(ValueError) as e:
        Axes.from_config(description).resolve(SPLIT)
    for word in words:
        assert word in str(e.value)


def test_time_without_a_time_axis_is_an_error_but_t_optional_is_empty() -> None:
    with pytest.raises(ValueError, match="no such axis"):
        Axes.from_config("T").resolve(NO_TIME)
    assert Axes.from_config("T?").resolve(NO_TIME) == []
    assert Axes.from_config("spatial").resolve(NO_TIME) == [1]


def test_resolve_one_refuses_several() -> None:
    with pytest.raises(ValueError, match="names 2 axes"):
        Axes.from_config("static").resolve_one(SPLIT)


def test_set_axes_accepts_each_role_on_its_own_axis_only() -> None:
    SetAxes.from_config({"T": "stag:time", "f": "dim:3", "B": "B"}).check_against(SPLIT)
    SetAxes.from_config({"T": "spatial:0"}).check_against(SPLIT)
    with pytest.raises(ValueError, match="swap_axes"):
        SetAxes.from_config({"F": "spatial:1"}).check_against(SPLIT)
    with pytest.raises(ValueError, match="per-sequence lengths"):
        SetAxes.from_config({"T": "spatial"}).check_against(NO_TIME)
    with pytest.raises(ValueError, match="'B', 'T' or 'F'"):
        SetAxes.from_config({"X": "T"})
    assert SetAxes.from_config({"f": 2, "t": "T"}).has_int


# [B, conv:s0 (pooled time), 3 (conv0p:conv:s1, from feature:data), 2 (s_split_dims1), 4 (F)], names as RETURNN's
POOLED_TIME = time_dim(TimeAxis.DATA).derived_time(Derived(TimeAxis.DATA, LengthRule(stride=2)), "c:conv:s0")
NAMED = TensorType((BATCH, POOLED_TIME,
                    spatial_dim(3, "conv0p:conv:s1"), spatial_dim(2, "s_split_dims1"), feature_dim(4, "c:channel")))


@pytest.mark.parametrize("description, expected", [
    ("stag:conv0p:conv:s1", [2]), ("stag:CONV0P", [2]), ("stag:s_split_dims1", [3]), ("stag:split", [3]),
    ("stag:c:conv:s0", [1]), ("stag:time", [1]), ("stag-single:0:conv", [1]), ("stag-single:-1:conv", [2]),
    ("stag-single:1:conv:s", [2]), ("tag:channel", [4]), ("tag:global batch", [0]),
    (["stag:conv0p:conv:s1", "F"], [2, 4]),
])
def test_stag_names_static_axes_by_their_returnn_names(description: object, expected: list[int]) -> None:
    """RETURNN `get_axes_by_tag_name`: a case-insensitive part of the description, among the spatial axes."""
    assert Axes.from_config(description).resolve(NAMED) == expected


@pytest.mark.parametrize("description, words", [
    ("stag:conv", ["2 axes", "'c:conv:s0'", "'conv0p:conv:s1'", "stag-single:k:conv"]),  # RETURNN: not unique
    ("stag:channel", ["no spatial axis", "'s_split_dims1'"]),  # the feature dim is no spatial axis
    ("stag-single:2:conv", ["2 spatial axes"]),
])
def test_stag_that_matches_not_exactly_one_axis_is_an_error(description: str, words: list[str]) -> None:
    with pytest.raises(ValueError) as e:
        Axes.from_config(description).resolve(NAMED)
    for word in words:
        assert word in str(e.value)


def test_the_base_name_of_a_computed_static_axis_matches() -> None:
    """RETURNN's pooled axis `conv0p:conv:s1` has the same base `⌈feature:data/2⌉`: `stag:feature:data` finds it."""
    pooled = spatial_dim(6, "feature:data").derived(DimKind.SPATIAL, 3, "conv0p:conv:s1")
    t = NAMED.with_dims(NAMED.dims[:2] + (pooled,) + NAMED.dims[3:])
    assert Axes.from_config("stag:feature:data").resolve(t) == [2]


def test_names_take_no_part_in_dim_equality() -> None:
    assert spatial_dim(3, "a_split_dims0") == spatial_dim(3, "b:window") == spatial_dim(3)
    assert hash(spatial_dim(3, "a")) == hash(spatial_dim(3))


def test_a_named_time_axis_not_computed_from_time_is_no_stag_time() -> None:
    """RETURNN's split_dims of time makes a new axis `s_split_dims0_rem`: `stag:time` does not find it."""
    split = NAMED.with_dims((BATCH, time_dim(Derived(TimeAxis.DATA, LengthRule(stride=2)), "s_split_dims0_rem")))
    with pytest.raises(ValueError, match="no spatial axis"):
        Axes.from_config("stag:time").resolve(split)


def test_an_unnamed_axis_is_named_by_its_position() -> None:
    with pytest.raises(ValueError, match="does not know RETURNN's tag names of 2"):
        Axes.from_config("stag:pad").resolve(SPLIT)
