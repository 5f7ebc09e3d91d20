"""Issue 17: people and institutions as parties, contacts, bridges, restraint, clarifications.

Rules and weights of the new kinds (each contact or clarification that counts for nothing
says why, by code), the sybil bound of bridges (a thousand fabricated persons move
nothing), contacts as restraint and a confirmed clarification withdrawing the threat its
event raised, on a node's own views (`NodeViews` over a store, as the daemon computes them).
"""

from __future__ import annotations

import pytest

from tests.world import AREA, DIGEST, World
from trustnet.analysis.views import NodeViews, Settings
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.errors import ConfigError, EntryError, NotFound
from trustnet.feedback.restraint import CONTACT_RESTRAINT
from trustnet.log.entry import Entry
from trustnet.statements.figures import DAY_MS
from trustnet.statements.kinds import parse_body
from trustnet.statements.people import CLARIFICATION_STATUSES, CONTACT_STATUSES
from trustnet.store.sqlite import Store
from trustnet.trust.bridges import PeopleParams, bridges

T0 = 1_780_000_000_000
NOW = T0 + 60 * DAY_MS


class People(World):
    """Two states with their people, north's node looking."""

    def __init__(self) -> None:
        super().__init__()
        for state in ("north", "south"):
            self.post(state, "profile", {"name": state, "role": "state", "urls": []}, T0)
        self.post("north", "trust", {"subject": self.party("south"), "level": 600}, T0)
        self.post("north", "trust", {"subject": self.party("observer"), "level": 800}, T0)
        self.post("observer", "profile", {"name": "observer", "role": "observer", "urls": []}, T0)

    def member(self, name: str, state: str, role: str = "person", *, confirmed: bool = True) -> str:
        body = {"name": name, "role": role, "urls": [], "state": self.party(state)}
        profile = self.post(name, "profile", body, T0 + 1)
        if confirmed:
            self.attest(state, profile, T0 + 2)
        return self.party(name)

    def contact(self, a: str, b: str, ts: int, *, at: int | None = None,
                confirm: bool = True) -> Entry:
        body = {"counterpart": self.party(b), "type": "exchange", "at": ts if at is None else at,
                "place": "Riverside", "people": 12}
        e = self.post(a, "contact", body, ts)
        if confirm:
            self.attest(b, e, ts + 1000)
        return e

    def views(self, now: int = NOW, config: NodeConfig | None = None) -> NodeViews:
        store = Store(None)
        store.ingest(self.entries, now)
        # The story is written at once: judge each statement by its ts (a lab replay).
        settings = Settings.from_config(config or NodeConfig(sections={"trust": {"replay": True}}))
        return NodeViews(store, self.party("north"), (), settings, ManualClock(now))


def statuses(views: NodeViews) -> dict[str, str]:
    views.current()
    assert views.people is not None
    return {c.id: c.status for c in views.people.people.contacts}


def test_the_new_kinds_and_roles_validate() -> None:
    for role in ("person", "ngo", "embassy", "municipality"):
        parse_body("profile", {"name": "x", "role": role, "urls": [], "state": "ab" * 32})
    with pytest.raises(EntryError) as bad:
        parse_body("contact", {"counterpart": "ab" * 32, "type": "visit", "at": 1,
                               "place": "x", "people": 0})
    assert bad.value.code == "bad_body" and "contact.people" in str(bad.value)
    with pytest.raises(EntryError) as bad:
        parse_body("clarification", {"subject": "nope", "what": "x", "evidence": []})
    assert bad.value.code == "bad_body"


def test_a_contact_counts_only_confirmed_across_the_divide_by_parties_relied_upon() -> None:
    w = People()
    w.member("ann", "north")
    w.member("bo", "south")
    w.member("cy", "north")
    w.member("dee", "south", confirmed=False)  # claims to be south's; south never said so
    w.post("east", "profile", {"name": "east", "role": "state", "urls": []}, T0)
    w.member("eve", "east")  # east is a state nobody here trusts
    counted = w.contact("ann", "bo", T0 + DAY_MS)
    twice = w.contact("bo", "ann", T0 + DAY_MS + 5000, at=T0 + DAY_MS)  # the same meeting
    unconfirmed = w.contact("ann", "bo", T0 + 2 * DAY_MS, confirm=False)
    alone = w.contact("ann", "ann", T0 + 3 * DAY_MS)
    same = w.contact("ann", "cy", T0 + 4 * DAY_MS)
    no_side = w.contact("ann", "dee", T0 + 5 * DAY_MS)
    untrusted = w.contact("ann", "eve", T0 + 6 * DAY_MS)
    refuted = w.contact("ann", "bo", T0 + 7 * DAY_MS, confirm=False)
    w.attest("bo", refuted, T0 + 7 * DAY_MS + 1, verdict="refute")
    got = statuses(w.views())
    assert got == {
        counted.id_hex: "counted", twice.id_hex: "duplicate", unconfirmed.id_hex: "unconfirmed",
        alone.id_hex: "self_contact", same.id_hex: "same_side", no_side.id_hex: "no_side",
        untrusted.id_hex: "untrusted", refuted.id_hex: "refuted",
    }
    assert set(got.values()) == set(CONTACT_STATUSES)
    views = w.views()
    views.current()
    assert views.people is not None
    (fact,) = views.people.people.counted()
    assert 0.0 < fact.weight <= 1.0  # the smaller standing: south's person, through south
    assert fact.sides == (w.party("north"), w.party("south"))
    (bridge,) = views.people.bridges
    assert bridge.states == tuple(sorted((w.party("north"), w.party("south"))))
    assert bridge.contacts == 1 and bridge.people == 12 and 0.0 < bridge.strength < 1.0


def test_bridges_cap_each_party_and_fade_with_time() -> None:
    w = People()
    w.member("ann", "north")
    for i in range(10):
        w.member(f"s{i}", "south")
        w.contact("ann", f"s{i}", T0 + DAY_MS + i)
    views = w.views()
    views.current()
    assert views.people is not None
    counted = views.people.people.counted()
    assert len(counted) == 10
    params = PeopleParams(party_cap=2.0)
    (capped,) = bridges(counted, NOW, params)
    (uncapped,) = bridges(counted, NOW, PeopleParams(party_cap=100.0))
    assert capped.evidence <= 2.0 < uncapped.evidence  # ann's ten meetings count as two
    (later,) = bridges(counted, NOW + 180 * DAY_MS, params)
    assert later.evidence == pytest.approx(capped.evidence / 2)  # the default half-life


def test_a_thousand_fabricated_persons_move_nothing() -> None:
    w = People()
    w.member("ann", "north")
    w.member("bo", "south")
    w.contact("ann", "bo", T0 + DAY_MS)
    w.post("observer", "observation", {
        "subject": w.party("south"), "area": AREA, "at": T0 + 3 * DAY_MS, "troops": 20_000,
        "tanks": 0, "acv": 0, "artillery": 0, "method": "aerial", "confidence": 800,
        "evidence": [DIGEST]}, T0 + 3 * DAY_MS)
    before = w.views()
    b_beliefs, b_susp = before.current()
    assert before.people is not None
    base_bridges = before.people.bridges
    base = b_susp.report(w.party("south"), NOW)
    # 1,000 fresh keys that call themselves south's people (south never confirmed them),
    # each with a contact to the next, confirmed by it, and one to ann that ann confirms.
    n = 1000
    for i in range(n):
        w.post(f"sybil-{i}", "profile", {"name": f"sybil-{i}", "role": "person", "urls": [],
                                         "state": w.party("south")}, T0 + 4 * DAY_MS)
    for i in range(n):
        w.contact(f"sybil-{i}", f"sybil-{(i + 1) % n}", T0 + 5 * DAY_MS + 2000 * i)
    w.contact("sybil-0", "ann", T0 + 6 * DAY_MS)
    after = w.views()
    a_beliefs, a_susp = after.current()
    assert after.people is not None
    assert after.people.bridges == base_bridges
    assert a_susp.report(w.party("south"), NOW) == base
    got = {c.status for c in after.people.people.contacts if c.author.startswith("")}
    assert "counted" in got  # ann and bo's meeting still counts
    sybils = [c for c in after.people.people.contacts if c.id not in
              {x.id for x in before.people.people.contacts}]
    assert len(sybils) == n + 1 and {c.status for c in sybils} == {"no_side"}
    for pid in (w.party("ann"), w.party("bo"), w.party("south")):
        assert a_beliefs.parties[pid].reliability.p == pytest.approx(
            b_beliefs.parties[pid].reliability.p, abs=1e-9)
    # Confirming a meeting vouches for nothing as a source: the ring stays at reliability 0.
    assert all(a_beliefs.parties[w.party(f"sybil-{i}")].reliability.p == 0.0 for i in range(n))


def test_sybils_tied_to_a_state_nobody_trusts_count_for_nothing_either() -> None:
    w = People()
    w.member("ann", "north")
    w.post("east", "profile", {"name": "east", "role": "state", "urls": []}, T0)
    for i in range(50):
        w.member(f"e{i}", "east")  # tied, by a state this node does not rely on
        w.contact(f"e{i}", "ann", T0 + DAY_MS + i)
    views = w.views()
    views.current()
    assert views.people is not None
    assert views.people.bridges == ()
    assert {c.status for c in views.people.people.contacts} == {"untrusted"}


def _threatened(w: People) -> Entry:
    return w.post("observer", "observation", {
        "subject": w.party("south"), "area": AREA, "at": T0 + 10 * DAY_MS, "troops": 20_000,
        "tanks": 0, "acv": 0, "artillery": 0, "method": "aerial", "confidence": 800,
        "evidence": [DIGEST]}, T0 + 10 * DAY_MS)


def test_sustained_confirmed_contacts_restrain_the_relationship() -> None:
    quiet, busy = People(), People()
    for w in (quiet, busy):
        w.member("ann", "north")
        for i in range(8):
            w.member(f"s{i}", "south")
        _threatened(w)
    for i in range(8):
        busy.contact("ann", f"s{i}", T0 + (20 + 3 * i) * DAY_MS)
        busy.contact(f"s{i}", "ann", T0 + (21 + 3 * i) * DAY_MS)
    south = quiet.party("south")
    q = quiet.views().current()[1].report(south, NOW)
    views = busy.views()
    b = views.current()[1].report(south, NOW)
    assert b.restraint > q.restraint
    assert b.escalation_index < q.escalation_index
    assert b.x < q.x  # suspicion falls faster with restraint
    assert any(d.rule == CONTACT_RESTRAINT for d in b.drivers)


@pytest.mark.parametrize("verdict", ["confirm", "refute", None])
def test_a_clarification_confirmed_withdraws_the_threat_and_a_refuted_one_does_not(
    verdict: str | None,
) -> None:
    w = People()
    w.member("embassy", "south", role="embassy")
    w.post("inspector", "profile", {"name": "inspector", "role": "state", "urls": []}, T0)
    w.post("north", "trust", {"subject": w.party("inspector"), "level": 800}, T0)
    seen = _threatened(w)
    south = w.party("south")
    before = w.views().current()[1].report(south, NOW)
    assert before.x > 0.0
    clar = w.post("embassy", "clarification", {
        "subject": seen.id_hex, "what": "empty wagons moved by rail to the depot",
        "evidence": [DIGEST]}, T0 + 11 * DAY_MS)
    if verdict is not None:
        w.attest("inspector", clar, T0 + 12 * DAY_MS, verdict=verdict)
    views = w.views()
    after = views.current()[1]
    assert views.people is not None
    (fact,) = views.people.people.clarifications
    expected = {"confirm": "confirmed", "refute": "refuted", None: "unconfirmed"}[verdict]
    assert fact.status == expected and fact.party == south
    if verdict == "confirm":
        with pytest.raises(NotFound):  # nothing left about south: no signal, no report
            after.report(south, NOW)
    else:
        assert after.report(south, NOW) == before


def test_clarifications_that_count_for_nothing_say_why() -> None:
    w = People()
    w.member("embassy", "south", role="embassy")
    w.member("ann", "south")  # a person, not an embassy
    seen = _threatened(w)
    unknown = w.post("embassy", "clarification", {
        "subject": "99" * 32, "what": "nothing", "evidence": []}, T0 + 11 * DAY_MS)
    by_person = w.post("ann", "clarification", {
        "subject": seen.id_hex, "what": "nothing", "evidence": []}, T0 + 11 * DAY_MS)
    own_side = w.post("embassy", "clarification", {
        "subject": seen.id_hex, "what": "nothing", "evidence": []}, T0 + 11 * DAY_MS)
    w.attest("south", own_side, T0 + 12 * DAY_MS)  # its own state's word is not independent
    views = w.views()
    views.current()
    assert views.people is not None
    got = {c.id: c.status for c in views.people.people.clarifications}
    assert got == {unknown.id_hex: "unknown_subject", by_person.id_hex: "no_standing",
                   own_side.id_hex: "unconfirmed"}
    assert set(got.values()) < set(CLARIFICATION_STATUSES)


def test_people_settings_are_checked() -> None:
    assert Settings.from_config(NodeConfig(sections={"people": {"party_cap": 1}})).people.party_cap == 1
    for bad in ({"party_cap": -1}, {"bridge_half_life_days": 0}, {"nope": 1},
                {"party_cap": "x"}):
        with pytest.raises(ConfigError):
            Settings.from_config(NodeConfig(sections={"people": bad}))
