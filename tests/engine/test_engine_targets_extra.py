"""Net edge and direction targets: hand-checked values, per symbol, unknown futures left null."""

from __future__ import annotations

import polars as pl
import pytest

from engine.targets import (
    add_direction,
    add_forward_return,
    add_net_edge,
    direction_name,
    net_edge_name,
    target_name,
)

# Two symbols, interleaved in time as a multi-symbol frame would be; rows of one symbol in order.
FRAME = pl.DataFrame(
    {
        "symbol": ["A", "B", "A", "B", "A", "B", "A"],
        "close": [100.0, 50.0, 101.0, 49.0, 100.99, 49.0, 100.0],
    }
)
# A: 100 -> 101 -> 100.99 -> 100: fwd_1 = +100, -0.990099..., -98.02951..., null
# B: 50 -> 49 -> 49:                fwd_1 = -200, 0, null
FWD_A = [100.0, (100.99 / 101 - 1) * 1e4, (100 / 100.99 - 1) * 1e4, None]
FWD_B = [-200.0, 0.0, None]


def by_symbol(frame: pl.DataFrame, column: str) -> dict[str, list]:
    return {s: frame.filter(pl.col("symbol") == s)[column].to_list() for s in ("A", "B")}


def test_net_edge_by_hand():
    # cost 1 bps per unit turnover -> round trip 2 bps: sign(fwd) * max(|fwd| - 2, 0)
    out = add_net_edge(FRAME, horizon=1, cost_bps=1.0)
    got = by_symbol(out, "net_edge_bps_1")
    assert got["A"][0] == pytest.approx(98.0, abs=1e-9)
    assert got["A"][1] == 0.0  # a 0.99 bps move does not pay for a 2 bps round trip
    assert got["A"][2] == pytest.approx(FWD_A[2] + 2.0, abs=1e-9)
    assert got["B"][:2] == [pytest.approx(-198.0, abs=1e-9), 0.0]
    assert got["A"][3] is None and got["B"][2] is None


def test_net_edge_is_the_forward_return_shrunk_by_the_round_trip(goog):
    out = add_net_edge(add_forward_return(goog, 3), horizon=3, cost_bps=2.5).drop_nulls(target_name(3))
    fwd, edge = out[target_name(3)].to_numpy(), out[net_edge_name(3)].to_numpy()
    pays = abs(fwd) > 5.0
    assert (edge[~pays] == 0).all()
    assert (edge[pays] * fwd[pays] > 0).all()
    assert abs(abs(edge[pays]) - (abs(fwd[pays]) - 5.0)).max() < 1e-9
    assert pays.mean() > 0.5  # the rule is exercised on both sides on real data


def test_direction_by_hand_with_a_strict_threshold():
    exactly_a0 = (101.0 / 100.0 - 1) * 1e4  # A's first move (100.00000000000009 in floats)
    out = add_direction(FRAME, horizon=1, threshold_bps=exactly_a0)
    assert out[direction_name(1)].dtype == pl.Int8
    # A move of exactly the threshold is a hold, not a buy.
    assert by_symbol(out, "direction_1") == {"A": [0, 0, 0, None], "B": [-1, 0, None]}
    out = add_direction(FRAME, horizon=1, threshold_bps=0.5)
    assert by_symbol(out, "direction_1") == {"A": [1, -1, -1, None], "B": [-1, 0, None]}


def test_longer_horizon_leaves_the_last_rows_of_each_symbol_null():
    out = add_direction(add_net_edge(FRAME, horizon=2, cost_bps=0.0), horizon=2, threshold_bps=0.0)
    edges = by_symbol(out, "net_edge_bps_2")
    assert edges["A"][0] == pytest.approx((100.99 / 100 - 1) * 1e4, abs=1e-9)
    assert edges["A"][2:] == [None, None] and edges["B"][1:] == [None, None]
    assert by_symbol(out, "direction_2") == {"A": [1, -1, None, None], "B": [-1, None, None]}
    # nothing filled: exactly `horizon` nulls per symbol in each new column
    counts = out.group_by("symbol").agg(pl.col("net_edge_bps_2", "direction_2").null_count()).sort("symbol")
    assert counts.rows() == [("A", 2, 2), ("B", 2, 2)]


def test_targets_agree_with_the_forward_return_on_real_data(goog):
    out = add_direction(add_net_edge(add_forward_return(goog, 1), 1, 0.0), 1, 0.0)
    known = out.drop_nulls("fwd_ret_1")
    assert (known["net_edge_bps_1"] - known["fwd_ret_1"]).abs().max() < 1e-12
    assert (known["direction_1"].cast(pl.Float64) == known["fwd_ret_1"].sign()).all()
    assert out.tail(1)[["fwd_ret_1", "net_edge_bps_1", "direction_1"]].null_count().row(0) == (1, 1, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_net_edge(FRAME, horizon=0), "horizon"),
        (lambda: add_net_edge(FRAME, horizon=1, cost_bps=-1), "cost_bps"),
        (lambda: add_net_edge(FRAME, horizon=1, cost_bps=float("nan")), "cost_bps"),
        (lambda: add_direction(FRAME, horizon=1.5), "horizon"),
        (lambda: add_direction(FRAME, horizon=1, threshold_bps=-0.1), "threshold_bps"),
        (lambda: add_direction(FRAME, horizon=1, threshold_bps="5"), "threshold_bps"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
