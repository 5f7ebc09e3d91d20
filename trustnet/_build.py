"""The modules compiled with mypyc at install (setup.py), and nothing else: read by setup.py
without importing trustnet, and by `trustnet._source` to tell whether the compiled forms
are current.

They are the node's analysis (the belief engine, the rules, the suspicion estimator), where
a full recompute spends its time (issue 15 item 3): the same source compiled, ~25 % faster
with the records written out for it (docs/benchmarks.md). Everything else stays
interpreted; where a module is not built, or its source differs from what was built, all
of them run as Python (same results, slower)."""

# The shared library of the group: trustnet/_analysis__mypyc.<abi>.so
GROUP = "trustnet._analysis"

COMPILED = (
    "trustnet/trust/beliefs/base.py",
    "trustnet/trust/beliefs/compiled.py",
    "trustnet/trust/beliefs/compliance.py",
    "trustnet/trust/beliefs/credibility.py",
    "trustnet/trust/beliefs/engine.py",
    "trustnet/trust/beliefs/explain.py",
    "trustnet/trust/beliefs/graph.py",
    "trustnet/heap.py",
    "trustnet/trust/beliefs/reliability.py",
    "trustnet/trust/beliefs/track.py",
    "trustnet/trust/beliefs/tracktypes.py",
    "trustnet/feedback/estimator.py",
    "trustnet/feedback/history.py",
    "trustnet/feedback/ledger.py",
    "trustnet/feedback/restraint.py",
    "trustnet/feedback/signals.py",
    "trustnet/feedback/tables.py",
    "trustnet/statements/counts.py",
    "trustnet/statements/entries.py",
    "trustnet/statements/evidence.py",
    "trustnet/statements/facts.py",
    "trustnet/statements/index.py",
    "trustnet/statements/people.py",
    "trustnet/statements/regime.py",
    "trustnet/statements/regime_calendar.py",
    "trustnet/statements/regime_common.py",
    "trustnet/statements/regime_consultation.py",
    "trustnet/statements/regime_evaluation.py",
    "trustnet/statements/regime_exchange.py",
    "trustnet/statements/regime_incidents.py",
    "trustnet/statements/regime_inspection.py",
    "trustnet/statements/regime_notification.py",
    "trustnet/statements/regime_observation.py",
    "trustnet/statements/regime_openskies.py",
    "trustnet/statements/rules.py",
    "trustnet/statements/stmt.py",
)
