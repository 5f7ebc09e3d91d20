"""Beliefs from the local node's perspective: source reliability and compliance (DESIGN 7, 9).

Pipeline (pure, deterministic; no I/O, no clock: `now_ms` is a parameter):

1. Statements are indexed once (`BeliefEngine.add`). Those the CSBM rules read
   are partitioned by the party they concern (its notifications, exchanges,
   replies and responses; others' observations of it, requests to it, reports on
   it). Every rule of `trustnet.statements.rules` only ever combines statements
   of one such partition, so evaluating each partition separately gives exactly
   `evaluate()` over everything, and a new entry re-evaluates one partition.
   A partition's evidence is cached until it changes or `now_ms` crosses one of
   its answer deadlines (the only use the rules make of the time). Deadlines are
   judged by receipt: an entry whose `ts` lags its receipt by more than
   `backdate_tolerance_s` counts as made when received (DESIGN 12), except in
   `replay` mode (docs/beliefs.md).
2. Reliability (personalized EigenTrust, rooted at this node and its anchors):
   - local trust: `trust` statements (level/1000 x `trust_weight`, positive
     ones, latest per (author, subject) wins, self edges dropped) plus track
     record edges verifier -> source: A's attestations of B's entries, and an
     accepted inspection's report against B's observation of the same activity
     (confirmed when every count is within `tolerance` or both meet the same
     Vienna thresholds; refuted otherwise) and against the host's notification
     (the rules' verified `undercounted_notification` refutes it,
     `inspection_consistent` confirms it). The edge weight is
     `track_weight x max(0, b - d)` of the pair's `from_evidence(confirmed, refuted)`.
     Confirmations raise reliability only through EigenTrust, so a sybil region
     cannot confirm itself into reliability: its total stays bounded by what
     flows in through its attack edges.
   - the share t_j becomes a belief *linear* in t_j: b_j = trust_belief x
     min(1, ratio_j) x strength_j (the share-weighted mean level of the edges into
     j: +150 stays weaker than +800), ratio_j = t_j / ((1 - a) t_r / d_r), with r the
     most-trusted root and d_r its out-degree: a party r trusts as much as its
     other direct trustees has ratio ~1 however many parties r trusts. Linear, so
     splitting a fixed share among more sybils never raises their total.
   - refutations by reliable verifiers (reliability >= `reliable`, from a first
     EigenTrust pass over `trust` statements alone) weighted by that
     reliability, become disbelief: reliability = cumulative_fuse((b_j, 0, 1 - b_j),
     from_evidence(0, refuted_j + distrust_j)), distrust_j from negative `trust`
     statements (|level|/1000 x `distrust_weight` x the distruster's reliability);
     a party disbelieved more than believed passes no trust on. Base rate 0: a source nobody reaches has
     reliability exactly 0, so unknown keys move nothing.
   - the node itself has reliability 1 (dogmatic) in its own view; an
     equivocating author (fork proof) has exactly 0, its edges, attestations and
     track record are dropped, and evidence resting only on it is skipped.
3. Compliance per party. The rules' evidence is grouped into facts by
   (party, rule, entries[0]): an activity observed, then inspected, is one fact.
   A fact's credibility is a base-rate-0 opinion:
   - no sources (the party's own signatures alone prove it): 1;
   - resting on the party's own signed answer to another's request
     (`consultation_answered`, `inspection_accepted`, and verifiable
     `consultation_unanswered` / `inspection_refused`): min(1, p_best / reliable),
     p_best the best requester's reliability — so the party cannot earn
     cooperation (or be framed) by answering keys nobody relies on;
   - otherwise cumulative fusion of (p_s, 0, 1 - p_s) over its supporters (its
     sources and the attesters who confirm one of its entries) and (0, p_r, 1 - p_r)
     over attesters who refute one; supporters of one bloc (mutual trust >=
     `bloc_level`) are averaged first (averaging fusion: not independent).
   The fact's own opinion is from_evidence(|w| x `evidence_scale`) on the side
   of its sign, discounted (Jøsang 2016 §14.3) by the credibility, and the
   party's compliance is the cumulative fusion of its facts (base rate `base_rate`).
   - raw view: every fact, all its supporters;
   - verified view: facts that rest on the party's own signature, on an inspection
     the host accepted *and* whose report the host co-signed (its `confirm`
     attestation; the node's own report in its own view), or that a quorum of
     independent reliable attesters confirm (distinct, not forked, reliability >=
     `reliable`, of distinct blocs, neither the party nor the author of the entry
     they attest); the host's refutation of a report weighs against it;
     credibility from the verified basis only, so an unverified observation of
     the same activity cannot move it.
   - an equivocating party's compliance is fully negative (dogmatic d = 1).

Cost (DESIGN 11, issue 15 item 3): a new entry re-evaluates only the rules of its partition
that read its kind (`statements.rules.PartitionRules`, the partition's index kept and
extended), the reliabilities only when the trust graph, the track record's events or the
forks changed, and reuses every view whose inputs are the same objects. A party's facts are prepared once per change of what they read (their
evidence, the attestations of their entries, forks, names) and compiled into numpy arrays;
a snapshot then computes every credibility of a view at once from a vector of the rounded
reliabilities, fuses the view from those arrays, and makes its `Contribution` records only
when `View.evidence` is read (`View.facts()` gives the credibilities without them). The
track record's parts that do not depend on reliabilities are cached the same way.
"""

from trustnet.statements.counts import observation_confirmed
from trustnet.trust.beliefs.base import FORK_EVIDENCE
from trustnet.trust.beliefs.credibility import (
    RELIABILITY_DIGITS,
    credibility,
    credibility_p,
    fact_opinion,
    share_belief,
    source_opinion,
)
from trustnet.trust.beliefs.engine import BeliefEngine, compute_beliefs
from trustnet.trust.beliefs.params import TrustParams
from trustnet.trust.beliefs.records import Beliefs, Contribution, PartyBelief, Reliability, View

__all__ = [
    "FORK_EVIDENCE",
    "RELIABILITY_DIGITS",
    "BeliefEngine",
    "Beliefs",
    "Contribution",
    "PartyBelief",
    "Reliability",
    "TrustParams",
    "View",
    "compute_beliefs",
    "credibility",
    "credibility_p",
    "fact_opinion",
    "observation_confirmed",
    "share_belief",
    "source_opinion",
]
