"""Difference-in-differences estimators for staggered adoption (issue 5).

- `callaway_santanna`: group-time ATTs and simple/group/dynamic/calendar aggregations (validated against R `did`)
- `event_study`: TWFE event study with a reference period and endpoint binning
- `sun_abraham`: interaction-weighted event study
- `bacon`: Goodman-Bacon decomposition
- `two_stage`: Gardner two-stage DID with Butts ring spillovers
- `dcdh`, `dcdh_dynamic`, `twowayfeweights`: de Chaisemartin & D'Haultfœuille DID_M, dynamic effects, TWFE weights
- `stacked`: stacked DID; `placebo`: permutation test; `psm_did`: propensity-score matched DID
"""

from analysis.did.bacon import bacon
from analysis.did.callaway_santanna import callaway_santanna
from analysis.did.dcdh import dcdh, dcdh_dynamic, twowayfeweights
from analysis.did.event_study import event_study
from analysis.did.placebo import placebo
from analysis.did.psm import psm_did
from analysis.did.stacked import stacked
from analysis.did.sun_abraham import sun_abraham
from analysis.did.two_stage import two_stage

__all__ = ["bacon", "callaway_santanna", "dcdh", "dcdh_dynamic", "event_study", "placebo", "psm_did", "stacked",
           "sun_abraham", "two_stage", "twowayfeweights"]
