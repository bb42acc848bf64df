"""The estimators a specification can name, with the options each accepts.

An entry adapts a specification (outcome, regressors, controls, fixed effects, cluster, options) to one
estimator's keyword arguments and returns its `EstimationResult`. Options not listed for an estimator are
rejected when the design file loads. Heavy modules are imported inside the adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.designs.spec import Spec, SpecError
from analysis.results import EstimationResult, NotEstimable


@dataclass(frozen=True)
class Estimator:
    """A named estimator: its adapter, its options (name -> meaning) and whether it needs a treatment."""

    name: str
    fit: Callable[[pd.DataFrame, Spec, str, str], EstimationResult]
    options: dict[str, str] = field(default_factory=dict)
    needs_treatment: bool = False
    description: str = ""


def _cluster(spec: Spec, unit: str) -> list[str]:
    """The spec's cluster variables (the unit when none is given)."""
    return list(spec.cluster) or [unit]


def _one_cluster(spec: Spec, unit: str) -> str:
    """A single cluster variable, for estimators without multi-way clustering."""
    cl = _cluster(spec, unit)
    if len(cl) != 1:
        raise SpecError(f"{spec.id}: estimator {spec.estimator!r} takes one cluster variable, not {cl}")
    return cl[0]


def _fe_ols(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.fixed_effects import feols

    o = spec.options
    for v in spec.regressors:
        if v in df and df[v].isna().all():
            # e.g. an instrument from an optional input source, regressed on in a first-stage column
            raise NotEstimable(f"{spec.id}: regressor {v!r} has no value in the sample (its input source is absent "
                               "or covers none of the sample's units)")
    res = feols(df, y=spec.outcome, x=list(spec.regressors), controls=list(spec.controls),
                fe=list(spec.fixed_effects), cluster=_cluster(spec, unit) if o.get("vcov", "cluster") == "cluster"
                else None, vcov=o.get("vcov", "cluster"), weights=spec.weights, model_id=spec.id, unit=unit,
                time=time, group="cohort" if "cohort" in df else None)
    if "wild_bootstrap" in o:
        from analysis.inference import wild_cluster_bootstrap

        wb = dict(o["wild_bootstrap"])
        res = wild_cluster_bootstrap(res, param=wb.pop("param", spec.regressors[0]), **wb)
    return res


def _event_study(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import event_study

    o = spec.options
    return event_study(df, y=spec.outcome, unit=unit, time=time, group="cohort", controls=list(spec.controls),
                       cluster=_cluster(spec, unit), ref=o.get("base_period", -1), min_e=o.get("min_e"),
                       max_e=o.get("max_e"), weights=spec.weights, model_id=spec.id)


def _callaway_santanna(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import callaway_santanna

    o = spec.options
    cl = _one_cluster(spec, unit)
    res = callaway_santanna(
        df, y=spec.outcome, unit=unit, time=time, group="cohort", controls=list(spec.controls),
        control_group=o.get("control_group", "never"), method=o.get("method", "dr"),
        base_period=o.get("base_period", "varying"), anticipation=o.get("anticipation", 0),
        bootstrap=o.get("bootstrap", False), seed=o.get("seed"), cluster=None if cl == unit else cl,
        progress=False, model_id=spec.id)
    kind = o.get("aggregate", "simple")
    kw = {k: o[k] for k in ("min_e", "max_e") if k in o}
    return res.aggregate(kind, model_id=spec.id, **kw)


def _bacon(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import bacon

    return bacon(df, y=spec.outcome, unit=unit, time=time, group="cohort", model_id=spec.id)


def _sun_abraham(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import sun_abraham

    o = spec.options
    return sun_abraham(df, y=spec.outcome, unit=unit, time=time, group="cohort", controls=list(spec.controls),
                       cluster=_one_cluster(spec, unit), control_group=o.get("control_group", "never"),
                       ref=o.get("base_period", -1), model_id=spec.id)


def _two_stage(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import two_stage

    o = spec.options
    return two_stage(df, y=spec.outcome, unit=unit, time=time, group="cohort", controls=list(spec.controls),
                     cluster=_one_cluster(spec, unit), rings=list(spec.treatment.get("rings") or []),
                     event_study=o.get("event_study", False), ref=o.get("base_period", -1), min_e=o.get("min_e"),
                     max_e=o.get("max_e"), model_id=spec.id)


def _stacked(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import stacked

    o = spec.options
    win = o.get("window", 2)
    return stacked(df, y=spec.outcome, unit=unit, time=time, group="cohort",
                   window=tuple(win) if isinstance(win, list) else win, controls=list(spec.controls),
                   cluster=_one_cluster(spec, unit), control_group=o.get("control_group", "notyet"),
                   event_study=o.get("event_study", False), ref=o.get("base_period", -1), model_id=spec.id)


def _placebo(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import placebo

    o = spec.options
    return placebo(df, y=spec.outcome, unit=unit, time=time, group="cohort", controls=list(spec.controls),
                   n_draws=int(o.get("n_draws", 1000)), assignment=o.get("assignment", "permute"),
                   seed=o.get("seed"), progress=False, model_id=spec.id)


def _psm_did(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import psm_did

    o = spec.options
    return psm_did(df, y=spec.outcome, unit=unit, time=time, group="cohort",
                   match_on=list(o.get("match_on") or spec.controls), controls=list(o.get("did_controls", [])),
                   baseline=o.get("baseline", "pre_mean"), caliper=o.get("caliper", 0.2),
                   replace=o.get("replace", False), common_support=o.get("common_support", True),
                   cluster=_one_cluster(spec, unit), model_id=spec.id)


def _with_dummies(df: pd.DataFrame, spec: Spec) -> tuple[pd.DataFrame, list[str]]:
    """Fixed effects as dummy columns (first level dropped), for estimators that cannot absorb them.

    Levels come from the rows the estimator can use (outcome, regressors and controls present): a level seen
    only on incomplete rows (a year without the outcome) would give an all-zero, collinear column.
    """
    if not spec.fixed_effects:
        return df, list(spec.controls)
    used = [c for c in (spec.outcome, *spec.regressors, *spec.controls) if c in df]
    complete = df[used].notna().all(axis=1)
    dummies = []
    for fe in spec.fixed_effects:
        levels = sorted(df.loc[complete, fe].dropna().unique())
        dummies.append(pd.DataFrame({f"{fe}_{v}": (df[fe] == v).astype(float) for v in levels[1:]}, index=df.index))
    extra = pd.concat(dummies, axis=1)
    return pd.concat([df, extra], axis=1), [*spec.controls, *extra.columns]


def _quantile(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.quantile import quantile_regression

    o = spec.options
    data, controls = _with_dummies(df, spec)
    vcov = o.get("vcov", "nid")
    res = quantile_regression(data, y=spec.outcome, x=list(spec.regressors), controls=controls,
                              quantiles=[float(o.get("quantile", 0.5))], vcov=vcov,
                              cluster=_one_cluster(spec, unit) if vcov in ("cluster", "bootstrap") and (
                                  spec.cluster or vcov == "cluster") else None,
                              reps=int(o.get("reps", 500)), seed=o.get("seed"), unit=unit, time=time,
                              model_id=spec.id)[0]
    res.model_id = spec.id
    return res


def _fgls(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.gls import fgls

    o = spec.options
    data, controls = _with_dummies(df, spec)
    return fgls(data, y=spec.outcome, x=list(spec.regressors), controls=controls, unit=unit, time=time,
                panels=o.get("panels", "heteroskedastic"), corr=o.get("corr", "ar1"), model_id=spec.id)
def _panel_threshold(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.threshold import panel_threshold

    o = dict(spec.options)
    q = o.pop("threshold_variable")
    return panel_threshold(df, y=spec.outcome, regime_x=list(spec.regressors), q=q, controls=list(spec.controls),
                           unit=unit, time=time, cluster=_one_cluster(spec, unit), progress=False,
                           model_id=spec.id, **o)


def _iv2sls(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.iv import iv2sls

    o = dict(spec.options)
    vcov = o.pop("vcov", "cluster")
    for z in [o["instruments"]] if isinstance(o["instruments"], str) else o["instruments"]:
        if z in df and df[z].isna().all():
            # An instrument from an optional input source (e.g. seed 000's 1984 yearbook) that is absent.
            raise NotEstimable(f"{spec.id}: instrument {z!r} has no value in the sample (its input source is "
                               "absent or covers none of the sample's units)")
    return iv2sls(df, y=spec.outcome, endog=o.pop("endogenous"), instruments=o.pop("instruments"),
                  exog=[*spec.regressors, *spec.controls], fe=list(spec.fixed_effects) or None, vcov=vcov,
                  cluster=_one_cluster(spec, unit) if vcov == "cluster" else None, model_id=spec.id, unit=unit,
                  time=time, **o)


def _moderation(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.heterogeneity import moderation

    o = dict(spec.options)
    if len(spec.regressors) != 1:
        raise SpecError(f"{spec.id}: moderation takes one regressor (the moderated variable)")
    return moderation(df, y=spec.outcome, x=spec.regressors[0], moderator=o.pop("moderator"),
                      controls=list(spec.controls), fe=list(spec.fixed_effects), cluster=_cluster(spec, unit),
                      unit=unit, time=time, model_id=spec.id, **o)


def _split_sample(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.heterogeneity import split_sample

    o = dict(spec.options)
    if len(spec.regressors) != 1:
        raise SpecError(f"{spec.id}: split_sample compares one regressor across the groups")
    groups = o.pop("groups", None)
    return split_sample(df, y=spec.outcome, x=spec.regressors[0], by=o.pop("by"), controls=list(spec.controls),
                        fe=list(spec.fixed_effects), cluster=_one_cluster(spec, unit),
                        groups=tuple(groups) if groups else None, unit=unit, time=time, progress=False,
                        model_id=spec.id, **o)


def _dcdh(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import dcdh

    o = spec.options
    return dcdh(df, y=spec.outcome, unit=unit, time=time, group="cohort", cluster=_one_cluster(spec, unit),
                weights=spec.weights, n_boot=int(o.get("n_boot", 200)), seed=o.get("seed"), model_id=spec.id)


def _dcdh_dynamic(df: pd.DataFrame, spec: Spec, unit: str, time: str) -> EstimationResult:
    from analysis.did import dcdh_dynamic

    o = spec.options
    return dcdh_dynamic(df, y=spec.outcome, unit=unit, time=time, group="cohort", effects=int(o["effects"]),
                        placebos=int(o.get("placebos", 0)), cluster=_one_cluster(spec, unit), weights=spec.weights,
                        n_boot=int(o.get("n_boot", 200)), seed=o.get("seed"), model_id=spec.id)


_BASE = {"base_period": "reference event time (omitted period)", "min_e": "lowest event time (binned below)",
         "max_e": "highest event time (binned above)"}

ESTIMATORS: dict[str, Estimator] = {e.name: e for e in [
    Estimator("twfe", _fe_ols, {"vcov": "cluster | iid | hetero",
                                "wild_bootstrap": "wild cluster bootstrap settings (param, n_draws, weights, seed)"},
              description="OLS with absorbed fixed effects (pyfixest feols; reghdfe-compatible CRV1)"),
    Estimator("event_study", _event_study, dict(_BASE), needs_treatment=True,
              description="TWFE event study on relative-time dummies"),
    Estimator("callaway_santanna", _callaway_santanna,
              {"control_group": "never | notyet", "method": "dr | reg | ipw", "base_period": "varying | universal",
               "anticipation": "periods of anticipation", "bootstrap": "multiplier bootstrap draws (false = analytic)",
               "seed": "bootstrap seed", "aggregate": "simple | dynamic | group | calendar",
               "min_e": "lowest event time of the dynamic aggregation", "max_e": "highest event time"},
              needs_treatment=True, description="Callaway & Sant'Anna (2021) group-time ATTs, aggregated"),
    Estimator("bacon", _bacon, {}, needs_treatment=True, description="Goodman-Bacon (2021) decomposition"),
    Estimator("sun_abraham", _sun_abraham, {"control_group": "never | last", "base_period": "reference event time"},
              needs_treatment=True, description="Sun & Abraham (2021) interaction-weighted event study"),
    Estimator("two_stage", _two_stage, {"event_study": "dynamic effects instead of one ATT", **_BASE},
              needs_treatment=True, description="Gardner (2022) two-stage DID, Butts (2023) rings"),
    Estimator("stacked", _stacked, {"window": "k or [lo, hi] event window", "control_group": "never | notyet",
                                    "event_study": "dynamic effects", "base_period": "reference event time"},
              needs_treatment=True, description="Stacked DID (Cengiz et al. 2019)"),
    Estimator("placebo", _placebo, {"n_draws": "number of reassignments", "assignment": "permute | random",
                                    "seed": "random seed"},
              needs_treatment=True, description="Placebo permutation test of the TWFE DID coefficient"),
    Estimator("psm_did", _psm_did, {"match_on": "propensity-score covariates (default: the controls)",
                                    "did_controls": "controls of the matched DID", "baseline": "pre_mean | <period>",
                                    "caliper": "caliper in SDs of the logit score", "replace": "match with replacement",
                                    "common_support": "trim to common support"},
              needs_treatment=True, description="Propensity-score matched DID"),
    Estimator("quantile", _quantile, {"quantile": "τ in (0, 1)", "vcov": "nid | iid | cluster | bootstrap",
                                      "reps": "bootstrap draws", "seed": "bootstrap seed"},
              description="Pooled quantile regression (pyfixest quantreg); fixed effects enter as dummies"),
    Estimator("fgls", _fgls, {"panels": "heteroskedastic | iid", "corr": "ar1 | independent"},
              description="xtgls-style feasible GLS; fixed effects enter as dummies"),
    Estimator("dcdh", _dcdh, {"n_boot": "cluster bootstrap draws", "seed": "bootstrap seed"}, needs_treatment=True,
              description="de Chaisemartin & D'Haultfœuille (2020) DID_M with TWFE weight diagnostic"),
    Estimator("dcdh_dynamic", _dcdh_dynamic, {"effects": "dynamic effects l = 1..L (required)",
                                              "placebos": "placebo effects", "n_boot": "bootstrap draws",
                                              "seed": "bootstrap seed"}, needs_treatment=True,
              description="de Chaisemartin & D'Haultfœuille dynamic effects (did_multiplegt_dyn)"),
    Estimator("panel_threshold", _panel_threshold,
              {"threshold_variable": "threshold variable q (required)", "n_thresholds": "1 to 3",
               "trim": "trimming share(s)", "grid": "hansen | all | quantile", "n_grid": "grid points",
               "bootstrap": "draws per threshold test", "seed": "bootstrap seed", "time_effects": "add year effects",
               "transform": "hansen | within", "level": "LR interval level", "balance": "require | drop_units"},
              description="Hansen (1999) fixed-effects panel threshold"),
    Estimator("iv2sls", _iv2sls, {"endogenous": "endogenous regressor(s) (required)",
                                  "instruments": "excluded instruments (required)", "vcov": "iid | robust | cluster",
                                  "small": "small-sample corrections (ivreg2 small)"},
              description="2SLS with absorbed fixed effects and ivreg2 first-stage diagnostics"),
    Estimator("moderation", _moderation, {"moderator": "moderating variable (required)", "center": "mean-centre",
                                          "at": "moderator values for marginal effects", "level": "interval level"},
              description="Interaction (moderation) model with marginal effects"),
    Estimator("split_sample", _split_sample, {"by": "grouping variable (required)", "groups": "the two groups",
                                              "n_permutations": "Fisher permutation draws", "seed": "seed",
                                              "permute": "auto | units | rows"},
              description="Split-sample heterogeneity with suest and permutation tests of the difference"),
]}


def register(estimator: Estimator) -> None:
    """Add an estimator (used by the modules that define more of them)."""
    ESTIMATORS[estimator.name] = estimator


def describe() -> pd.DataFrame:
    """The registry as a table: estimator, description, options."""
    return pd.DataFrame([{"estimator": e.name, "description": e.description,
                          "options": ", ".join(f"{k} ({v})" for k, v in e.options.items())}
                         for e in ESTIMATORS.values()])


def fit(df: pd.DataFrame, spec: Spec, *, unit: str, time: str) -> Any:
    """Run the spec's estimator on its frame."""
    est = ESTIMATORS.get(spec.estimator)
    if est is None:
        raise SpecError(f"{spec.id}: unknown estimator {spec.estimator!r}")
    return est.fit(df, spec, unit, time)
