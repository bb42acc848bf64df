"""Theil, Gini, Dagum and the composite indices against closed forms, brute force and their identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.indices import entropy_topsis, entropy_weights, pca_index
from analysis.inequality import dagum, gini, inequality_by, theil


@pytest.fixture()
def sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lognormal values, uneven weights and four groups."""
    rng = np.random.default_rng(7)
    return rng.lognormal(0, 1, 200), rng.uniform(0.5, 5, 200), rng.integers(0, 4, 200)


def test_equal_distribution_is_zero() -> None:
    """Equal values: Theil L, Theil T and Gini are 0 (achieved exactly 0 up to 1e-16; asserted 1e-12)."""
    x, w = np.full(10, 3.7), np.arange(1, 11.0)
    assert abs(theil(x, w).total) < 1e-12
    assert abs(theil(x, w, measure="T").total) < 1e-12
    assert abs(gini(x, w)) < 1e-12


def test_one_holder_maximum() -> None:
    """One unit holds everything: Gini = (n-1)/n, Theil T = ln n (achieved 1e-16, asserted 1e-12); L undefined."""
    for n in (2, 5, 100):
        x = np.zeros(n)
        x[0] = 4.0
        assert gini(x) == pytest.approx((n - 1) / n, abs=1e-12)
        assert theil(x, measure="T").total == pytest.approx(np.log(n), abs=1e-12)
        with pytest.raises(ValueError, match="zero value"):
            theil(x)


def test_theil_l_closed_form_and_seed000_form(sample: tuple) -> None:
    """Theil L = Σ p ln(μ/c) = Σ p ln(p/e) (seed 000 eq. 1), two-point closed form (achieved 1e-16; asserted 1e-12)."""
    p, a, b = 0.3, 2.0, 5.0
    mu = p * a + (1 - p) * b
    assert theil([a, b], [p, 1 - p]).total == pytest.approx(p * np.log(mu / a) + (1 - p) * np.log(mu / b), abs=1e-12)
    x, w, _ = sample
    pop_share = w / w.sum()
    emission_share = w * x / (w * x).sum()
    assert theil(x, w).total == pytest.approx(float(pop_share @ np.log(pop_share / emission_share)), abs=1e-12)


@pytest.mark.parametrize("measure", ["L", "T"])
def test_theil_between_plus_within(sample: tuple, measure: str) -> None:
    """Between + within = total to 1e-12 (achieved ~1e-16), for L and T."""
    x, w, g = sample
    t = theil(x, w, g, measure=measure)
    assert t.between + t.within == pytest.approx(t.total, abs=1e-12)
    assert t.between > 0 and t.within > 0
    assert t.groups["weight_share"].sum() == pytest.approx(1, abs=1e-12)


def test_gini_against_double_sum(sample: tuple) -> None:
    """Sorted-cumulative Gini equals the O(n²) weighted double sum (achieved ~1e-16; asserted 1e-12)."""
    x, w, _ = sample
    s = w / w.sum()
    brute = (s[:, None] * s[None, :] * np.abs(x[:, None] - x[None, :])).sum() / (2 * (s @ x))
    assert gini(x, w) == pytest.approx(brute, abs=1e-12)
    assert gini(x) == pytest.approx(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()), abs=1e-12)


def test_dagum_parts_sum_to_gini(sample: tuple) -> None:
    """Dagum within + net between + transvariation = Gini to 1e-12 (achieved ~1e-16), weighted and unweighted."""
    x, w, g = sample
    for weights in (None, w):
        d = dagum(x, g, weights)
        assert d.within + d.net_between + d.transvariation == pytest.approx(d.gini, abs=1e-12)
        assert sum(d.shares().values()) == pytest.approx(1, abs=1e-12)
        assert (d.pairs["D_jh"].between(0, 1)).all()


def test_dagum_special_cases() -> None:
    """One group: all within. Non-overlapping groups: no transvariation (exact to 1e-12)."""
    x = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    one = dagum(x, np.zeros(6))
    assert one.within == pytest.approx(gini(x), abs=1e-12) and one.net_between == 0 and one.transvariation == 0
    two = dagum(x, np.array([0, 0, 0, 1, 1, 1]))
    assert two.transvariation == pytest.approx(0, abs=1e-12)
    assert two.pairs.loc[0, "D_jh"] == pytest.approx(1, abs=1e-12)


def test_inequality_by_counts_drops() -> None:
    """Per-cell measures leave out (and count) rows with a missing or zero value."""
    df = pd.DataFrame({"year": [1, 1, 1, 2, 2, 2], "v": [1.0, 2.0, np.nan, 1.0, 1.0, 0.0], "w": 1.0})
    out = inequality_by(df, value="v", by="year", weight="w")
    assert out["n_dropped"].tolist() == [1, 1]
    assert out.loc[1, "theil"] == pytest.approx(0, abs=1e-12)


# ------------------------------------------------------------------------------------------ indices
def test_entropy_weights_closed_form() -> None:
    """A column concentrated on one row has entropy 0, a constant column entropy 1: weights (1, 0)."""
    w = entropy_weights(pd.DataFrame({"a": [1.0, 0.0, 0.0], "b": [2.0, 2.0, 2.0]}))
    assert w["a"] == pytest.approx(1, abs=1e-12) and w["b"] == pytest.approx(0, abs=1e-12)
    # two columns with the same entropy share equally; no standardisation inside (scale-free by construction)
    w2 = entropy_weights(np.array([[1.0, 10.0], [3.0, 30.0], [6.0, 60.0]]))
    assert w2.tolist() == pytest.approx([0.5, 0.5], abs=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        entropy_weights(np.array([[1.0, -1.0], [2.0, 3.0]]))


@pytest.fixture()
def indicators() -> pd.DataFrame:
    """Five correlated positive indicators and one negative, three years, with one incomplete row."""
    rng = np.random.default_rng(3)
    f = rng.lognormal(0, 0.6, 300)
    df = pd.DataFrame({f"x{j}": f * rng.lognormal(0, 0.3, 300) for j in range(5)})
    df["neg"] = 1 / f * rng.lognormal(0, 0.3, 300)
    df["year"] = np.repeat([2011, 2012, 2013], 100)
    df.loc[5, "x2"] = np.nan
    return df


@pytest.mark.parametrize("by", [None, "year"])
def test_topsis_range_weights_and_dominance(indicators: pd.DataFrame, by: str | None) -> None:
    """Index in [0, 1]; weights sum to 1 per cell; a row dominating another in every indicator scores higher."""
    pos = [f"x{j}" for j in range(5)]
    res = entropy_topsis(indicators, positive=pos, negative=["neg"], by=by)
    idx = res.index.dropna()
    assert res.n_dropped == 1 and np.isnan(res.index[5])
    assert idx.between(0, 1).all()
    sums = res.weights.groupby(by)["weight"].sum() if by else pd.Series([res.weights["weight"].sum()])
    assert np.allclose(sums, 1, atol=1e-12)
    # monotone in each indicator: rows equal but for indicator `col`, set inside its range, rank by it
    base = indicators.loc[indicators["year"] == 2012].dropna().iloc[0]
    for col, sign in [*((c, 1) for c in pos), ("neg", -1)]:
        values = indicators[col].quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
        extra = pd.DataFrame([base] * 4).assign(**{col: values}).set_axis([f"m{k}" for k in range(4)])
        scored = entropy_topsis(pd.concat([indicators, extra]), positive=pos, negative=["neg"], by=by)
        steps = np.diff(scored.index.loc[extra.index].to_numpy(dtype=float))
        assert (sign * steps > 0).all(), (col, steps)
    # strict dominance within one frame (weights and ideals are common): componentwise ≥ implies score ≥
    x = indicators.dropna()
    pairs = 0
    for i, j in zip(x.index[:-1], x.index[1:], strict=True):
        if by and x.at[i, "year"] != x.at[j, "year"]:
            continue
        a, b = x.loc[i, pos], x.loc[j, pos]
        if (a >= b).all() and x.at[i, "neg"] <= x.at[j, "neg"]:
            pairs += 1
            assert res.index[i] >= res.index[j]
    assert pairs > 0


def test_pca_index_matches_correlation_eigenvector(indicators: pd.DataFrame) -> None:
    """Loadings = leading eigenvector of the correlation matrix (numpy eigh), sign with positive sum (1e-10)."""
    pos = [f"x{j}" for j in range(5)]
    res = pca_index(indicators, positive=pos)
    x = indicators[pos].dropna()
    vals, vecs = np.linalg.eigh(np.corrcoef(x.to_numpy(), rowvar=False))
    lead = vecs[:, -1] * np.sign(vecs[:, -1].sum())
    assert res.weights["weight"].to_numpy() == pytest.approx(lead, abs=1e-10)
    assert res.weights["explained_share"].iloc[0] == pytest.approx(vals[-1] / vals.sum(), abs=1e-10)
    assert np.corrcoef(res.index.dropna(), entropy_topsis(indicators, positive=pos).index.dropna())[0, 1] > 0.8


def test_county_theil_weighting_options(tmp_path: Path) -> None:
    """Equal-weight county Theil, and per-capita Theil from the optional weights file; bad rows named."""
    from dagster_project.assets.measures import _county_theil, read_county_weights

    counties = pd.DataFrame({"city_code": "340100", "year": 2010, "county_code": ["340102", "340103", "340104"],
                             "co2_mt": [1.0, 2.0, 6.0]})
    assert read_county_weights(tmp_path) is None
    (tmp_path / "counties").mkdir()
    (tmp_path / "counties" / "county_weights.csv").write_text(
        "county_code,year,population\n340102,2010,100\n340103,2010,300\n340104,2010,200\n")
    w = read_county_weights(tmp_path)
    out = _county_theil(counties.merge(w, on=["county_code", "year"]))
    assert out["theil_county"].item() == pytest.approx(theil([1.0, 2.0, 6.0]).total, abs=1e-12)
    pop = np.array([100, 300, 200.0])
    assert out["theil_county_population"].item() == pytest.approx(theil(np.array([1, 2, 6.0]) / pop, pop).total,
                                                                  abs=1e-12)
    (tmp_path / "counties" / "county_weights.csv").write_text("county_code,year,population\n340102,2010,abc\n")
    with pytest.raises(ValueError, match=r"row 2, column population: 'abc'"):
        read_county_weights(tmp_path)
