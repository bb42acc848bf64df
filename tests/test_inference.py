"""Wild cluster bootstrap against the `wildboottest` package (the engine of pyfixest's `wildboottest()`).

With Rademacher weights and G ≤ 12 clusters both enumerate all 2^G sign vectors, so the bootstrap
distribution is deterministic and can be compared draw for draw: the sorted t*/t agree to ~3e-15
(asserted 1e-10). t*/t is compared because the two scale se* by different small-sample factors
(reghdfe's K here, the partialled regressors only in `wildboottest`); the p-value does not depend on it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from wildboottest.wildboottest import WildboottestCL

from analysis.fixed_effects import feols
from analysis.inference import wild_bootstrap_t, wild_cluster_bootstrap

warnings.filterwarnings("ignore", message=".*full_enumeration.*")


def _few_clusters(seed: int = 0, n_clusters: int = 10, beta: float = 0.1) -> pd.DataFrame:
    """A unit x year panel whose units sit in `n_clusters` provinces with province-level shocks."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"u": np.repeat(np.arange(60), 6), "t": np.tile(np.arange(6), 60)})
    df["p"] = df.u % n_clusters
    df["x"] = rng.normal(size=len(df)) + rng.normal(size=n_clusters)[df.p]
    df["z"] = rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 2.0, size=len(df))
    df["y"] = beta * df.x + 0.3 * df.z + rng.normal(size=len(df)) + rng.normal(size=n_clusters)[df.p]
    return df


def _reference(res: object, *, param: int, shift: float = 0.0, impose_null: bool = True) -> WildboottestCL:
    """`wildboottest` WCR11/WCU11 on the same partialled data (null β = shift via y − shift·x)."""
    m = res.model  # type: ignore[attr-defined]
    x = np.asarray(m._X, dtype=float)
    y = np.asarray(m._Y, dtype=float).ravel() - shift * x[:, param]
    r = np.zeros(x.shape[1])
    r[param] = 1.0
    wb = WildboottestCL(X=x, Y=y, cluster=np.asarray(m._data[m._clustervar[0]]), R=r, B=9999, seed=1)
    wb.get_scores(bootstrap_type="11", impose_null=impose_null)
    wb.get_weights(weights_type="rademacher")
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    wb.get_pvalue(pval_type="two-tailed")
    return wb


def _ratio(t: float, t_boot: np.ndarray) -> np.ndarray:
    """Sorted bootstrap t over the sample t (free of the small-sample factor)."""
    return np.sort(np.ravel(t_boot) / float(np.ravel(t)[0]))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("impose_null", [True, False])
def test_enumerated_distribution_equals_wildboottest(impose_null: bool, weighted: bool) -> None:
    """All 1,024 draws (G = 10) equal wildboottest's to 1e-10 (achieved ~3e-15), WCR and WCU, with weights."""
    df = _few_clusters()
    res = feols(df, y="y", x=["x", "z"], fe=["u", "t"], cluster="p", weights="w" if weighted else None)
    t, t_boot = wild_bootstrap_t(res, param="x", impose_null=impose_null)
    ref = _reference(res, param=0, impose_null=impose_null)
    assert len(t_boot) == ref.t_boot.size == 2**10
    np.testing.assert_allclose(_ratio(t, t_boot), _ratio(ref.t_stat, ref.t_boot), rtol=0, atol=1e-10)
    assert t == pytest.approx(float(res.tvalues["x"]), rel=1e-12)    # the result's own CRV1 t


def test_p_value_equals_wildboottest_up_to_the_tied_draws() -> None:
    """p counts |t*| ≥ |t| (ties included); wildboottest counts |t*| > |t|: equal up to the 2 tied draws/2^G."""
    for seed in range(4):
        res = feols(_few_clusters(seed=seed), y="y", x=["x", "z"], fe=["u", "t"], cluster="p")
        ours = wild_cluster_bootstrap(res, param="x").inference.loc["x", "p_value"]
        ref = _reference(res, param=0)
        t_ref, tb_ref = abs(float(np.ravel(ref.t_stat)[0])), np.abs(np.ravel(ref.t_boot))
        assert ours == pytest.approx(np.mean(tb_ref >= t_ref * (1 - 1e-9)), abs=1e-12)
        assert abs(ours - float(ref.pvalue)) <= 2 / 2**10 + 1e-12


def test_confidence_interval_inverts_the_test() -> None:
    """At each CI bound wildboottest's own test of β = bound (on y − bound·x) switches from p > .05 to p ≤ .05."""
    res = feols(_few_clusters(seed=5), y="y", x=["x", "z"], fe=["u", "t"], cluster="p")
    out = wild_cluster_bootstrap(res, param="x")
    lo, hi = out.inference.loc["x", ["ci_lower", "ci_upper"]]
    assert lo < float(res.params["x"]) < hi
    se = float(res.std_errors["x"])
    for bound, inward in ((lo, +1), (hi, -1)):
        inside = _reference(res, param=0, shift=bound + inward * 1e-6 * se)
        outside = _reference(res, param=0, shift=bound - inward * 1e-6 * se)
        p_in = np.mean(np.abs(np.ravel(inside.t_boot)) >= abs(float(np.ravel(inside.t_stat)[0])) * (1 - 1e-9))
        p_out = np.mean(np.abs(np.ravel(outside.t_boot)) >= abs(float(np.ravel(outside.t_stat)[0])) * (1 - 1e-9))
        assert p_in > 0.05 >= p_out
    ci = out.conf_int().loc["x"]
    assert (ci["lower"], ci["upper"]) == (lo, hi)          # the result reports the bootstrap interval
    assert out.pvalues["x"] == out.inference.loc["x", "p_value"]


def test_unit_fixed_effects_nested_in_clusters_equal_pyfixest_wildboottest() -> None:
    """With the only FE nested in the clusters, FWL = the dummy design pyfixest bootstraps: p equal up to ties."""
    df = _few_clusters(seed=7)
    res = feols(df, y="y", x=["x", "z"], fe="p", cluster="p")
    import pyfixest as pf

    ref = pf.feols("y ~ x + z | p", df, vcov={"CRV1": "p"}).wildboottest(param="x", reps=9999, seed=1)
    ours = wild_cluster_bootstrap(res, param="x").inference.loc["x", "p_value"]
    assert abs(ours - float(ref["Pr(>|t|)"])) <= 2 / 2**10 + 1e-12


def test_webb_weights_reproducible_and_close_to_enumeration() -> None:
    """Webb draws: seeded and reproducible; with 9,999 draws p is within 0.02 of the enumerated Rademacher p."""
    res = feols(_few_clusters(seed=2), y="y", x=["x", "z"], fe=["u", "t"], cluster="p")
    a = wild_cluster_bootstrap(res, param="x", weights="webb", seed=11)
    b = wild_cluster_bootstrap(res, param="x", weights="webb", seed=11)
    pd.testing.assert_frame_equal(a.inference, b.inference)
    rad = wild_cluster_bootstrap(res, param="x")
    assert abs(a.inference.loc["x", "p_value"] - rad.inference.loc["x", "p_value"]) < 0.02
    assert "webb" in a.inference.loc["x", "method"] and "full enumeration" in rad.inference.loc["x", "method"]


def test_size_under_the_null_with_few_clusters() -> None:
    """Eight clusters, true β = 0: the WCR p-value rejects at 5% in about 5% of 300 samples.

    A binomial 99.9% band around 0.05 for 300 trials is [0.013, 0.10]; observed 0.063 (CRV1 t(G−1): 0.067).
    """
    rejections = []
    for seed in range(300):
        df = _few_clusters(seed=100 + seed, n_clusters=8, beta=0.0)
        res = feols(df, y="y", x=["x", "z"], fe=["u", "t"], cluster="p")
        rejections.append(wild_cluster_bootstrap(res, param="x").inference.loc["x", "p_value"] <= 0.05)
    assert 0.013 <= np.mean(rejections) <= 0.10


def test_bad_requests_fail_clearly() -> None:
    """Unknown parameter, two-way clustering, a stored result, unknown weights: clear errors."""
    df = _few_clusters()
    res = feols(df, y="y", x=["x", "z"], fe=["u", "t"], cluster="p")
    with pytest.raises(KeyError, match="'nope' is not a coefficient"):
        wild_cluster_bootstrap(res, param="nope")
    with pytest.raises(ValueError, match="weights must be"):
        wild_cluster_bootstrap(res, param="x", weights="mammen")  # type: ignore[arg-type]
    two = feols(df, y="y", x=["x", "z"], fe=["u", "t"], cluster=["p", "t"])
    with pytest.raises(ValueError, match="one-way clustered"):
        wild_cluster_bootstrap(two, param="x")
    res.model = None
    with pytest.raises(ValueError, match="fitted model"):
        wild_cluster_bootstrap(res, param="x")
