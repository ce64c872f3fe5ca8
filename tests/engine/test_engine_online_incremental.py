"""An online (River) kind under the incremental cadence continues learning: it keeps every row it
learnt before and adds the new ones, so it differs from a fresh fit on the new rows alone."""

from __future__ import annotations

import numpy as np

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.models import load_model
from engine.training import prepare_data, train_model

KIND = "river_linear"


def test_the_incremental_cadence_continues_an_online_learner():
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    cut = frame.height - 120
    first = train_model(frame.head(cut), KIND, timeframe="1d", n_folds=3)
    previous = load_model(KIND, first.artifact)

    more = train_model(frame, KIND, timeframe="1d", cadence="incremental", previous=first.artifact,
                       previous_data_end=first.manifest.data_end)
    continued = load_model(KIND, more.artifact)
    fresh = train_model(frame, KIND, timeframe="1d", cadence="full", n_folds=3)
    fresh_model = load_model(KIND, fresh.artifact)

    assert more.manifest.cadence == "incremental"
    assert more.manifest.warm_start_from == first.manifest.data_end
    # Every row it learnt before, plus each new one.
    assert continued.n_learned_ == previous.n_learned_ + more.manifest.n_rows
    # What it holds equals the previous learner carrying on over the new rows, row by row.
    data = prepare_data(frame, horizon=1)
    new_rows = data.X[-more.manifest.n_rows:], data.fwd[-more.manifest.n_rows:]
    carried_on = load_model(KIND, first.artifact)
    carried_on.learn_more(*new_rows)
    np.testing.assert_allclose(continued.predict(data.X), carried_on.predict(data.X), rtol=1e-12)
    # And it is neither the old learner nor a learner that only saw the new rows.
    assert not np.allclose(continued.predict(data.X), previous.predict(data.X))
    only_new = type(previous)(**previous.get_params()).fit(*new_rows)
    assert not np.allclose(continued.predict(data.X), only_new.predict(data.X))
    # An online learner is sequential: carrying on over the new rows ends where learning every
    # row in order from scratch ends, so nothing learnt before was lost or relearnt.
    assert continued.n_learned_ == fresh_model.n_learned_
    np.testing.assert_allclose(continued.predict(data.X), fresh_model.predict(data.X), rtol=1e-12)
