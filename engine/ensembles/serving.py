"""Serving an ensemble version: its members' Servables and the stored combination, with the same
protocol as engine.serving.Servable (spec, manifest, inputs, candidates, forecast, learner_inputs,
predict_frame), so `huracan predict`, the live loop and A/B replays serve it like any version.

Each member is loaded through engine.serving.load_servable from the manifest the ensemble's
manifest records and the artifact address its JSON artifact records (both must agree; the brain's
load_artifact and load_servable check every sha256), and forecasts on its own spec's features. The
ensemble forecasts the bars every member can serve; a bar one member cannot serve is a gap, worded
with that member. The online learner beside an ensemble reads the members' forecasts (one column
per member, in member order) as its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from engine.ensembles.version import Combination, EnsembleError, members_of, read_artifact
from engine.manifest import Manifest
from engine.spec import VersionSpec


@dataclass(frozen=True)
class ServedMember:
    number: int
    serving: Any  # engine.serving.Servable


@dataclass(frozen=True)
class EnsembleServable:
    manifest: Manifest
    spec: VersionSpec
    combination: Combination
    members: tuple[ServedMember, ...]

    @property
    def inputs(self) -> list[str]:
        """What the online learner reads: each member's forecast."""
        return [f"v{member.number}" for member in self.members]

    def candidates(self, features_of: Callable) -> list[datetime]:
        # Every member's features cover the same bars of the series: any member's will do.
        return self.members[0].serving.candidates(features_of)

    def member_forecasts(self, features_of: Callable, wanted: Sequence[datetime]):
        """(bars every member served, their forecasts (n, k), gaps of the bars a member could not
        serve, each worded with the member)."""
        from engine.serving import Gap

        forecasts = [member.serving.forecast(features_of, wanted) for member in self.members]
        served = [dict(zip(forecast.ts, forecast.batch, strict=True)) for forecast in forecasts]
        bars = [ts for ts in wanted if all(ts in one for one in served)]
        X = np.asarray([[one[ts] for one in served] for ts in bars], dtype=float)
        X = X.reshape(len(bars), len(served))
        gaps: dict[datetime, Gap] = {}
        for member, forecast in zip(self.members, forecasts, strict=True):
            for gap in forecast.gaps:
                gaps.setdefault(gap.ts, Gap(gap.ts, gap.state, f"v{member.number}: {gap.detail}"))
        return bars, X, [gaps[ts] for ts in sorted(gaps)]

    def forecast(self, features_of: Callable, wanted: Sequence[datetime]):
        from engine.serving import Forecast

        bars, X, gaps = self.member_forecasts(features_of, wanted)
        return Forecast(bars, self.combination.apply(X) if bars else np.empty(0), X, gaps)

    def learner_inputs(self, features_of: Callable, bars: Sequence[datetime]):
        served, X, _gaps = self.member_forecasts(features_of, bars)
        return served, X

    def predict_frame(
        self, bars: pl.DataFrame, alt: Mapping[str, pl.DataFrame] | None = None
    ) -> pl.DataFrame:
        """(ts, prediction) for every bar all members can forecast: each member's own predict_frame,
        combined."""
        frames = [member.serving.predict_frame(bars, alt) for member in self.members]
        joined = frames[0].rename({"prediction": "m0"})
        for index, frame in enumerate(frames[1:], start=1):
            joined = joined.join(frame.rename({"prediction": f"m{index}"}), on="ts", how="inner")
        if joined.is_empty():
            raise ValueError("no bar of the file can be forecast by every member of the ensemble")
        X = joined.select([f"m{i}" for i in range(len(frames))]).to_numpy().astype(float)
        return pl.DataFrame({"ts": joined["ts"], "prediction": self.combination.apply(X)})


def load_ensemble(
    manifest: Mapping[str, Any], artifact: bytes, *, load_artifact: Callable[[str], bytes]
) -> EnsembleServable:
    """An ensemble version's servable (its own artifact's sha256 already checked by
    engine.serving.load_servable). EnsembleError when the artifact and the manifest disagree on
    the members."""
    from engine.pipeline import spec_of_manifest
    from engine.serving import load_servable

    combination, recorded = read_artifact(artifact)
    members = members_of(manifest)
    if [(m["number"], m["artifact_sha256"]) for m in recorded] != [
        (m.number, m.artifact_sha256) for m in members
    ]:
        raise EnsembleError("ensemble artifact: its members are not the ones its manifest records")
    loaded = tuple(
        ServedMember(member.number, load_servable(
            member.manifest, load_artifact(member.artifact_sha256), sha256=member.artifact_sha256,
            load_artifact=load_artifact,
        ))
        for member in members
    )
    return EnsembleServable(Manifest.from_json(manifest), spec_of_manifest(manifest), combination, loaded)
