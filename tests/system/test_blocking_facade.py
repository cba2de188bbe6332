"""The blocking facade: an integrator without asyncio drives a site from
ordinary threads, with the same drivers and simulators."""
import threading
from datetime import date

import pytest

from examhw import BlockingSite, DeviceTimeout, parse_site
from examhw.kinds import PowerSource
from examhw_simulators.idcard.model import SimCard

CONFIG = """
[devices.desk_reader]
kind = "id_reader"
driver = "examhw.sam-serial"
url = "sim:"
options = { poll_s = 0.02 }

[devices.ups]
kind = "ups"
driver = "examhw.nut"
url = "sim:"
"""

CARD = SimCard(name="张三", sex="1", nation="01", birth=date(1990, 3, 7), address="北京市东城区示例大街1号",
               id_number="110101199003070011", authority="北京市公安局东城分局", valid_from=date(2017, 7, 27),
               valid_to=date(2037, 7, 27))


def test_blocking_site_reads_a_card_and_the_ups_from_plain_threads():
    assert threading.current_thread() is threading.main_thread()
    with BlockingSite(parse_site(CONFIG)) as site:
        reader = site.device("desk_reader")
        with pytest.raises(DeviceTimeout):                 # NoCard is a DeviceTimeout
            reader.read_card(timeout=0.2)
        site.sim_model("desk_reader").present_card(card=CARD)
        card = reader.read_card(timeout=5)
        assert card.id_number == "110101199003070011" and card.id_number_valid
        assert site.device("ups").status().source == PowerSource.MAINS
        site.sim_model("ups").mains_fail()
        assert site.device("ups").status().source == PowerSource.BATTERY
        results = []
        threads = [threading.Thread(target=lambda: results.append(site.device("ups").status().source))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == [PowerSource.BATTERY] * 4


def test_unknown_role_and_failed_open_are_clear_and_leave_no_thread():
    from examhw import ConfigError, DeviceUnavailable
    with BlockingSite(parse_site(CONFIG)) as site:
        with pytest.raises(ConfigError) as ei:
            site.device("nope")
        assert ei.value.role == "nope"
    before = {t.name for t in threading.enumerate()}
    broken = parse_site('[devices.ups]\nkind = "ups"\ndriver = "examhw.nut"\nurl = "nut://127.0.0.1:1/ups1"\n')
    with pytest.raises(DeviceUnavailable) as ei:
        with BlockingSite(broken):
            pass
    assert ei.value.role == "ups" and "[ups]" in str(ei.value)          # the failing device is named
    assert "examhw-loop" not in {t.name for t in threading.enumerate()} - before
