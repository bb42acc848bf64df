"""Paper designs as data: one YAML file per paper, one specification per published table column.

A design file (`analysis/designs/seed_00N.yaml`) holds the paper's citation, its panel (unit, time,
sample years, exclusions), `defaults` merged into every specification, derived variables, and `specs`:

    - id: seed002.table4.col1          # <paper>.table<T>.col<C>[.<suffix>]
      table: "4"                       # the paper's table (figN for a figure)
      column: "1"
      label: Total CO2                 # what the column shows
      estimator: callaway_santanna     # a name in analysis.designs.registry.ESTIMATORS
      outcome: ln_co2_energy_total     # a panel variable (marts.variable_dictionary)
      regressors: [treated]            # panel or design variables (treated, cohort, ring_*, …)
      controls: [...]
      fixed_effects: [city_code, year]
      cluster: [city_code]
      sample: {years: [2011, 2019], exclude_provinces: ["540000"], balanced: false, require: [...]}
      treatment: {policy: bigdata_pilot_zone, timing: seed002, shift: 0, pre_treatment_only: false}
      options: {control_group: never, method: dr, ...}    # checked against the estimator's options
      published: [{dependent: total_CO2, term: NBDEZ, ours: ATT}]   # rows of marts.published_estimates
      choices: [{item: ..., choice: ..., reason: ...}]     # where the paper is silent ((?) in the spec)
      deviations: ["..."]                                  # every difference from the paper, with its reason

`figures` (optional) declares descriptive figures drawn from a warehouse table for the report (`Figure`:
kind line | stacked_area, source, x, y, series, facet, where, years, normalise).

Loading validates every entry before anything runs: unknown estimators, options, variables (against the
variable dictionary plus the variables the design layer itself builds) and malformed fields fail with the
specification's id and the problem.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DESIGNS_DIR = Path(__file__).resolve().parent
_ID = re.compile(r"^seed\d{3}\.(table|fig|text|appendix)[\w-]+\.col[\w-]+(\.[\w-]+)?$")
_SPEC_KEYS = {"id", "table", "column", "label", "estimator", "outcome", "regressors", "controls", "fixed_effects",
              "cluster", "sample", "treatment", "options", "published", "choices", "deviations", "weights"}
_SAMPLE_KEYS = {"years", "exclude_provinces", "balanced", "require", "query", "exclude_levels", "exclude_flags"}
_TREATMENT_KEYS = {"policy", "timing", "shift", "pre_treatment_only", "other_policies", "rings",
                   "rings_for_treated", "by_zone_type"}
_FILE_KEYS = {"paper", "title", "citation", "spec_file", "panel", "defaults", "derived", "specs", "notes", "figures"}
# above_median (cut: median, mean or a quantile), product, lag, indicator, log, period_mean (cross-unit mean per
# period); frame.py computes them.
_DERIVED_KINDS = ("above_median", "product", "lag", "indicator", "log", "period_mean")
_FIGURE_KEYS = {"id", "title", "kind", "source", "x", "y", "series", "facet", "where", "years", "normalise", "note"}
_FIGURE_KINDS = ("line", "stacked_area")
_SOURCE = re.compile(r"^(marts|analysis)\.[a-z_][a-z0-9_]*$")


class SpecError(ValueError):
    """A design file or specification that cannot run, with the id and the problem."""


@dataclass(frozen=True, kw_only=True)
class Derived:
    """A design variable computed from panel variables (e.g. above-median GDP per capita in 2014)."""

    name: str
    kind: str                     # one of _DERIVED_KINDS
    args: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Figure:
    """A descriptive figure of a paper drawn from a warehouse table (e.g. yearly Gini series), not a regression.

    Rows of `source` (a marts./analysis. table) matching `where` (column -> allowed values) and `years` are
    drawn as one line (or stacked area) per combination of the `series` columns, `y` against `x`, with one
    panel per value of `facet`. `normalise` lists the columns within which `y` is divided by its sum
    (component shares, e.g. Dagum parts per variable and year).
    """

    id: str
    title: str
    kind: str
    source: str
    x: str
    y: str
    series: tuple[str, ...] = ()
    facet: str | None = None
    where: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    years: tuple[int, int] | None = None
    normalise: tuple[str, ...] = ()
    note: str = ""

    def columns(self) -> list[str]:
        """The source columns the figure reads."""
        return list(dict.fromkeys([self.x, self.y, *self.series, *([self.facet] if self.facet else []),
                                   *self.where, *self.normalise]))


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One published table column as a runnable specification."""

    id: str
    paper: str
    table: str
    column: str
    label: str
    estimator: str
    outcome: str
    regressors: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    fixed_effects: tuple[str, ...] = ()
    cluster: tuple[str, ...] = ()
    weights: str | None = None
    sample: dict[str, Any] = field(default_factory=dict)
    treatment: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    published: tuple[dict[str, str], ...] = ()
    choices: tuple[dict[str, str], ...] = ()
    deviations: tuple[str, ...] = ()

    def variables(self) -> list[str]:
        """Every variable the specification reads (outcome, regressors, controls, FE, cluster, weights)."""
        names = [self.outcome, *self.regressors, *self.controls, *self.fixed_effects, *self.cluster,
                 *self.sample.get("require", ()), *self.sample.get("exclude_flags", ())]
        for key in ("match_on", "threshold_variable", "instruments", "endogenous", "moderator", "by"):
            v = self.options.get(key)
            names += [v] if isinstance(v, str) else list(v or [])
        if self.weights:
            names.append(self.weights)
        return list(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True, kw_only=True)
class DesignFile:
    """A paper's design: citation, panel definition, derived variables and specifications."""

    paper: str
    title: str
    citation: str
    spec_file: str
    panel: dict[str, Any]
    derived: tuple[Derived, ...]
    specs: tuple[Spec, ...]
    notes: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    path: Path | None = None

    @property
    def tables(self) -> list[str]:
        """The paper's tables in file order."""
        return list(dict.fromkeys(s.table for s in self.specs))

    def table_specs(self, table: str) -> list[Spec]:
        """The specifications of one table."""
        return [s for s in self.specs if s.table == table]

    def columns(self, specs: Iterable[Spec]) -> list[str]:
        """The warehouse columns these specifications read, directly or through derived variables."""
        names = {v for s in specs for v in s.variables()} | {v for d in self.derived for v in _derived_sources(d)}
        return sorted(names - {d.name for d in self.derived})


def _tuple(v: Any, *, where: str, what: str) -> tuple[str, ...]:
    """A string or list of strings as a tuple; anything else is a SpecError."""
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise SpecError(f"{where}: {what} must be a name or a list of names, not {v!r}")


def _merge(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """Defaults under an entry: dict fields merge one level deep, everything else is replaced."""
    out = copy.deepcopy(defaults)
    for k, v in entry.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_design(raw: dict[str, Any], *, path: Path | None = None) -> DesignFile:
    """Turn a parsed YAML design into a DesignFile, checking its structure (not its variables)."""
    where = str(path or "design")
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a design file is a mapping with paper, citation, panel and specs")
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown top-level keys {sorted(unknown)} (allowed: {sorted(_FILE_KEYS)})")
    for key in ("paper", "citation", "specs"):
        if key not in raw:
            raise SpecError(f"{where}: missing {key!r}")
    paper = str(raw["paper"])
    defaults = raw.get("defaults") or {}
    derived = []
    for name, d in (raw.get("derived") or {}).items():
        if not isinstance(d, dict) or len(d) != 1:
            raise SpecError(f"{where}: derived variable {name!r} needs exactly one rule "
                            f"({', '.join(_DERIVED_KINDS)})")
        kind, args = next(iter(d.items()))
        if kind not in _DERIVED_KINDS:
            raise SpecError(f"{where}: derived variable {name!r}: unknown rule {kind!r}")
        derived.append(Derived(name=name, kind=kind, args=args if isinstance(args, dict) else {"of": args}))
    specs, seen = [], set()
    for i, entry in enumerate(raw["specs"] or []):
        if not isinstance(entry, dict) or "id" not in entry:
            raise SpecError(f"{where}: spec #{i + 1} has no id")
        sid = str(entry["id"])
        if sid in seen:
            raise SpecError(f"{sid}: duplicate specification id in {where}")
        seen.add(sid)
        e = _merge(defaults, entry)
        unknown = set(e) - _SPEC_KEYS
        if unknown:
            raise SpecError(f"{sid}: unknown fields {sorted(unknown)} (allowed: {sorted(_SPEC_KEYS)})")
        if not _ID.match(sid) or not sid.startswith(paper.replace("_", "")):
            raise SpecError(f"{sid}: the id must read <paper>.table<T>.col<C>[.<suffix>] with paper {paper}")
        for key in ("table", "column", "estimator", "outcome"):
            if not e.get(key):
                raise SpecError(f"{sid}: missing {key!r}")
        bad = set(e.get("sample") or {}) - _SAMPLE_KEYS
        if bad:
            raise SpecError(f"{sid}: unknown sample keys {sorted(bad)} (allowed: {sorted(_SAMPLE_KEYS)})")
        bad = set(e.get("treatment") or {}) - _TREATMENT_KEYS
        if bad:
            raise SpecError(f"{sid}: unknown treatment keys {sorted(bad)} (allowed: {sorted(_TREATMENT_KEYS)})")
        for key in ("published", "choices"):
            if not all(isinstance(x, dict) for x in e.get(key) or []):
                raise SpecError(f"{sid}: {key} must be a list of mappings")
        specs.append(Spec(
            id=sid, paper=paper, table=str(e["table"]), column=str(e["column"]), label=str(e.get("label", "")),
            estimator=str(e["estimator"]), outcome=str(e["outcome"]),
            regressors=_tuple(e.get("regressors"), where=sid, what="regressors"),
            controls=_tuple(e.get("controls"), where=sid, what="controls"),
            fixed_effects=_tuple(e.get("fixed_effects"), where=sid, what="fixed_effects"),
            cluster=_tuple(e.get("cluster"), where=sid, what="cluster"), weights=e.get("weights"),
            sample=dict(e.get("sample") or {}), treatment=dict(e.get("treatment") or {}),
            options=dict(e.get("options") or {}),
            published=tuple({k: str(v) for k, v in p.items()} for p in e.get("published") or []),
            choices=tuple({k: str(v) for k, v in c.items()} for c in e.get("choices") or []),
            deviations=tuple(str(d) for d in e.get("deviations") or []),
        ))
    if not specs:
        raise SpecError(f"{where}: no specifications")
    return DesignFile(paper=paper, title=str(raw.get("title", "")), citation=str(raw["citation"]),
                      spec_file=str(raw.get("spec_file", "")), panel=dict(raw.get("panel") or {}),
                      derived=tuple(derived), specs=tuple(specs), notes=tuple(raw.get("notes") or ()),
                      figures=_figures(raw.get("figures") or [], paper=paper, where=where), path=path)


def _figures(raw: Any, *, paper: str, where: str) -> tuple[Figure, ...]:
    """Parse and check the design file's `figures` entries (structure only; columns are checked when drawn)."""
    if not isinstance(raw, list):
        raise SpecError(f"{where}: figures must be a list of mappings")
    out, seen = [], set()
    for i, f in enumerate(raw):
        if not isinstance(f, dict) or "id" not in f:
            raise SpecError(f"{where}: figure #{i + 1} has no id")
        fid = f"{paper}.{f['id']}"
        if f["id"] in seen:
            raise SpecError(f"{fid}: duplicate figure id")
        seen.add(f["id"])
        unknown = set(f) - _FIGURE_KEYS
        if unknown:
            raise SpecError(f"{fid}: unknown figure fields {sorted(unknown)} (allowed: {sorted(_FIGURE_KEYS)})")
        for key in ("source", "x", "y"):
            if not f.get(key):
                raise SpecError(f"{fid}: missing {key!r}")
        kind = f.get("kind", "line")
        if kind not in _FIGURE_KINDS:
            raise SpecError(f"{fid}: unknown figure kind {kind!r} (kinds: {', '.join(_FIGURE_KINDS)})")
        if not _SOURCE.match(str(f["source"])):
            raise SpecError(f"{fid}: source must name a marts. or analysis. table, not {f['source']!r}")
        cond = f.get("where") or {}
        if not isinstance(cond, dict):
            raise SpecError(f"{fid}: where must map columns to allowed values")
        years = f.get("years")
        if years is not None and not (isinstance(years, list) and len(years) == 2
                                      and all(isinstance(y, int) for y in years)):
            raise SpecError(f"{fid}: years must be [first, last], not {years!r}")
        out.append(Figure(
            id=str(f["id"]), title=str(f.get("title", f["id"])), kind=kind, source=str(f["source"]),
            x=str(f["x"]), y=str(f["y"]), series=_tuple(f.get("series"), where=fid, what="series"),
            facet=f.get("facet"), where={str(k): tuple(v if isinstance(v, list) else [v]) for k, v in cond.items()},
            years=(years[0], years[1]) if years else None,
            normalise=_tuple(f.get("normalise"), where=fid, what="normalise"), note=str(f.get("note", ""))))
    return tuple(out)


def load_design(path: str | Path) -> DesignFile:
    """Read and structurally check one design file."""
    path = Path(path)
    try:
        # libyaml's safe loader: the same documents, ~8x faster than the pure-Python one (the definitions load
        # every design file at import).
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    return parse_design(raw, path=path)


def design_files(folder: Path = DESIGNS_DIR) -> list[Path]:
    """The design files shipped with the project, in paper order."""
    return sorted(folder.glob("seed_*.yaml"))


def validate_design(design: DesignFile, *, variables: Iterable[str], policies: Iterable[str] = (),
                    timings: Iterable[tuple[str, str]] = ()) -> None:
    """Check every specification against the estimator registry and the known variables, or raise SpecError.

    `variables` are the panel's columns (marts.variable_dictionary); the variables the design layer builds
    (treatment, rings, other-policy dummies, derived variables) are added here. `policies` and `timings`
    (policy_id, timing_coding) check the treatment fields when given.
    """
    from analysis.designs.frame import design_variables
    from analysis.designs.registry import ESTIMATORS

    known = set(variables)
    policies, timings = set(policies), set(timings)
    problems: list[str] = []
    for spec in design.specs:
        est = ESTIMATORS.get(spec.estimator)
        if est is None:
            problems.append(f"{spec.id}: unknown estimator {spec.estimator!r} (known: {sorted(ESTIMATORS)})")
            continue
        bad = set(spec.options) - set(est.options)
        if bad:
            problems.append(f"{spec.id}: estimator {spec.estimator!r} has no option(s) {sorted(bad)} "
                            f"(options: {sorted(est.options)})")
        if est.needs_treatment and not spec.treatment.get("policy"):
            problems.append(f"{spec.id}: estimator {spec.estimator!r} needs treatment.policy")
        available = known | design_variables(spec, design.derived)
        missing = [v for v in spec.variables() if v not in available]
        if missing:
            problems.append(f"{spec.id}: unknown variable(s) {missing} (not in marts.variable_dictionary and not "
                            "built by the design layer)")
        for d in design.derived:
            for src in _derived_sources(d):
                if src not in available:
                    problems.append(f"{spec.id}: derived variable {d.name!r} reads unknown variable {src!r}")
        pol = spec.treatment.get("policy")
        if pol and policies and pol not in policies:
            problems.append(f"{spec.id}: unknown policy {pol!r} (policy_catalog)")
        for other in spec.treatment.get("other_policies") or []:
            if policies and other not in policies:
                problems.append(f"{spec.id}: unknown other policy {other!r} (policy_catalog)")
        timing = spec.treatment.get("timing")
        if pol and timing and timings and (pol, timing) not in timings:
            problems.append(f"{spec.id}: policy {pol!r} has no timing coding {timing!r} (policy_batch_timing)")
        if not isinstance(spec.treatment.get("shift", 0), int):
            problems.append(f"{spec.id}: treatment.shift must be a whole number of periods")
    if problems:
        raise SpecError("design " + design.paper + " has invalid specifications:\n  " + "\n  ".join(
            dict.fromkeys(problems)))


def _derived_sources(d: Derived) -> list[str]:
    """The variables a derived variable reads."""
    if d.kind == "above_median":
        return [str(d.args["of"])]
    if d.kind == "product":
        return [str(v) for v in d.args["of"]]
    return [str(d.args["of"])]
