"""Hard sequence constraints enforced while sampling (see docs/constraints.md).

``spec_from_options(forbid="BsaI,BsmBI", gc="0.40:0.60", prefix="ACGT…").compile(200)`` returns a
``SequenceConstraint`` with the sampler's hooks ``initial_state(n, L)`` and
``sample_step(step_log_probs [N, L, 5], x_t [N, L], generator) -> (x_s, log_prob)``, the audit
``violations(tokens)`` and the per-sequence check ``completable(x)``. ``load_constraints(FILE)`` reads
the same fields from JSON or YAML.
"""

from dnadav.constraints.automaton import SiteAutomaton, build_automaton
from dnadav.constraints.constraint import SequenceConstraint
from dnadav.constraints.sites import ENZYMES, Site, resolve_site, site_words
from dnadav.constraints.spec import ConstraintSpec, load_constraints, parse_forbid, parse_gc, spec_from_options
from dnadav.constraints.step import StepStats

__all__ = [
    "ENZYMES",
    "ConstraintSpec",
    "SequenceConstraint",
    "Site",
    "SiteAutomaton",
    "StepStats",
    "build_automaton",
    "load_constraints",
    "parse_forbid",
    "parse_gc",
    "resolve_site",
    "site_words",
    "spec_from_options",
]
