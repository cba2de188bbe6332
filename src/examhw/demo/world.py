"""The people's side of the demo: everything they do reaches the site only
through simulated devices (simulator backdoor actions), never through the
flow's own objects."""
from __future__ import annotations

from datetime import date
from typing import Any

from ..face.crop import id_style_crop
from ..flow.session import Roles
from ..sim.host import SimHost
from .people import FACES, Person, face_bytes


class World:
    """Acts on the simulators of a running site."""

    def __init__(self, sims: SimHost, roles: Roles, exam_date: date) -> None:
        self.sims = sims
        self.roles = roles
        self.exam_date = exam_date
        self._card_photo: dict[str, bytes] = {}
        self._live: dict[str, bytes] = {}

    async def act(self, role: str, verb: str, **kwargs: Any) -> Any:
        return await self.sims.model(role).act(verb, **kwargs)

    # -- faces ---------------------------------------------------------------
    def card_photo(self, identity: str) -> bytes:
        if identity not in self._card_photo:
            crop = id_style_crop(face_bytes(FACES[identity][0]))
            if crop is None:
                raise RuntimeError(f"no face found in the card photo of {identity}")
            self._card_photo[identity] = crop
        return self._card_photo[identity]

    def live(self, identity_or_file: str) -> bytes:
        if identity_or_file not in self._live:
            name = FACES[identity_or_file][1] if identity_or_file in FACES else identity_or_file
            self._live[identity_or_file] = face_bytes(name)
        return self._live[identity_or_file]

    # -- cards ---------------------------------------------------------------
    def sim_card(self, p: Person) -> Any:
        from examhw_simulators.idcard.model import SimCard
        region, place, authority = p.region
        return SimCard(name=p.name, sex=p.sex, nation="01", birth=p.birth,
                       address=f"{place}示例路{int(p.id_number[14:17])}号", id_number=p.id_number,
                       authority=authority, valid_from=date(2020, 1, 1), valid_to=date(2040, 1, 1),
                       face_image=self.card_photo(p.face))

    async def present_card(self, reader_role: str, p: Person) -> None:
        await self.act(reader_role, "present_card", card=self.sim_card(p))

    async def remove_card(self, reader_role: str) -> None:
        await self.act(reader_role, "remove_card")

    # -- movement ------------------------------------------------------------
    async def walk_detector(self, metal: bool) -> None:
        await self.act(self.roles.detector, "walk_through", metal=metal)

    async def walk_gate(self) -> None:
        await self.act(self.roles.gate, "walk_through", direction="in", people=1)

    async def show_face(self, camera_role: str, who: str | None) -> None:
        await self.act(camera_role, "show_face", image=None if who is None else self.live(who))

    async def sign(self, p: Person) -> None:
        await self.act(self.roles.signature_pad, "sign", name=p.name_latin)

    # -- power ---------------------------------------------------------------
    async def mains_fail(self) -> None:
        await self.act(self.roles.ups, "mains_fail")

    async def mains_restore(self) -> None:
        await self.act(self.roles.ups, "mains_restore")
