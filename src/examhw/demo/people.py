"""The synthetic people of the demo day: 100 booked candidates (with the
special cases the session must handle) and one walk-in."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources

from .. import idnumber
from ..flow.roster import BlacklistEntry, Candidate, Roster

SURNAMES = [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
            ("赵", "Zhao"), ("黄", "Huang"), ("周", "Zhou"), ("吴", "Wu"), ("徐", "Xu"), ("孙", "Sun"),
            ("胡", "Hu"), ("朱", "Zhu"), ("高", "Gao"), ("林", "Lin"), ("何", "He"), ("郭", "Guo")]
GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"), ("强", "Qiang"),
         ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"), ("勇", "Yong"), ("艳", "Yan"), ("杰", "Jie"),
         ("涛", "Tao"), ("明", "Ming"), ("超", "Chao"), ("霞", "Xia"), ("平", "Ping"), ("刚", "Gang")]
REGIONS = [("110101", "北京市东城区", "北京市公安局东城分局"), ("310104", "上海市徐汇区", "上海市公安局徐汇分局"),
           ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"), ("510104", "四川省成都市锦江区", "成都市公安局锦江分局")]

#: identity → (photo used for the ID card, photo the cameras see)
FACES = {
    "obama": ("obama_1.jpg", "obama_3.jpg"),
    "biden": ("biden_1.jpg", "biden_2.jpg"),
    "collins": ("collins_1.jpg", "collins_1.jpg"),
    "cameraman": ("cameraman_1.jpg", "cameraman_1.jpg"),
}
TWO_PEOPLE = "two_people_biden_obama.jpg"


def face_bytes(name: str) -> bytes:
    return resources.files("examhw.demo").joinpath("faces", name).read_bytes()


@dataclass
class Person:
    """Someone who turns up on the day, with what they will do."""

    name: str
    name_latin: str
    id_number: str
    sex: str
    birth: date
    region: tuple[str, str, str]
    face: str                          # identity of the face on the card
    live_face: str                     # identity whose face the cameras see
    booking: Candidate | None
    skill: float = 0.97                # probability of a right answer
    pace_s: tuple[float, float] = (8.0, 25.0)
    metal: bool = False                # sets off the walk-through detector
    handheld_clear: bool = True        # the officer's handheld re-check finds nothing
    skips_screening: bool = False
    cheats: bool = False               # a second person shows up at the seat
    role: str = "regular"              # what the report calls this person
    expect: str = ""                   # outcome the session must produce
    tags: list[str] = field(default_factory=list)


def make_population(rng: random.Random, exam_date: date, n_booked: int = 100,
                    session_id: str = "S1") -> tuple[Roster, list[Person]]:
    """A roster of ``n_booked`` candidates and the people who arrive.

    Special cases (each recorded in ``Person.role`` and ``expect``): two
    impostors (card of one person, face of another) refused at the gate; a
    blacklisted candidate refused at check-in; a metal-detector alarm
    cleared by the handheld check; one cheater; one who skips screening
    (refused at the gate); one walk-in with no booking (refused at check-in);
    one who needs the accessible seat; some weak and slow candidates.
    """
    people: list[Person] = []
    used: set[str] = set()
    identities = list(FACES)
    for i in range(n_booked):
        sur, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        sex = rng.choice("12")
        birth = date(rng.randint(1970, 2005), rng.randint(1, 12), rng.randint(1, 28))
        region = rng.choice(REGIONS)
        while True:
            seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            number = idnumber.make(region[0], birth, seq)
            if number not in used:
                used.add(number)
                break
        face = identities[i % len(identities)]
        cand = Candidate(candidate_id=f"C{i + 1:04d}", name=sur[0] + given[0], name_latin=f"{sur[1].upper()} {given[1]}",
                         id_number=number, sex=sex, birth_date=birth)
        people.append(Person(name=cand.name, name_latin=cand.name_latin, id_number=number, sex=sex, birth=birth,
                             region=region, face=face, live_face=face, booking=cand,
                             skill=rng.uniform(0.93, 0.995), expect="passed"))
    # -- the special cases (spread through the queue) --
    def pick(idx: int) -> Person:
        return people[idx % len(people)]

    for idx in (7, 41):
        p = pick(idx)
        p.live_face = identities[(identities.index(p.face) + 1) % len(identities)]
        p.role, p.expect = "impostor", "refused"
    p = pick(13)
    p.role, p.expect = "blacklisted", "refused"
    p = pick(22)
    p.metal, p.handheld_clear, p.role = True, True, "metal alarm cleared by handheld check"
    p = pick(57)
    p.cheats, p.role, p.expect = True, "cheater", "sanctioned"
    p = pick(64)
    p.skips_screening, p.role, p.expect = True, "skipped screening", "refused"
    p = pick(30)
    p.role = "needs accessible seat"
    people[30].booking = _with_access(people[30].booking)
    for idx in (3, 71):
        p = pick(idx)
        p.skill, p.role, p.expect = 0.70, "weak candidate", "failed"
    p = pick(88)
    p.pace_s, p.role, p.expect = (28.0, 36.0), "slow candidate (runs out of time)", "failed"

    candidates = [p.booking for p in people if p.booking is not None]
    roster = Roster(session_id=session_id, exam_date=exam_date, candidates=candidates)
    bl = pick(13)
    roster.blacklist[bl.id_number] = BlacklistEntry(bl.id_number, "cheating at an earlier exam",
                                                    exam_date + timedelta(days=200))
    # the walk-in arrives after about a third of the queue
    region = rng.choice(REGIONS)
    birth = date(1999, 9, 9)
    walkin = Person(name="赵示例", name_latin="ZHAO Shili", id_number=idnumber.make(region[0], birth, 17), sex="1",
                    birth=birth, region=region, face="biden", live_face="biden", booking=None,
                    role="walk-in without booking", expect="refused")
    people.insert(35, walkin)
    return roster, people


def _with_access(c: Candidate | None) -> Candidate | None:
    if c is None:
        return None
    return Candidate(candidate_id=c.candidate_id, name=c.name, name_latin=c.name_latin, id_number=c.id_number,
                     sex=c.sex, birth_date=c.birth_date, needs_accessible_seat=True)
