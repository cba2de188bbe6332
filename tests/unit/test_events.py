import asyncio

from examhw.events import EventHub


async def test_bounded_subscriber_drops_oldest_and_counts():
    hub = EventHub("gate")
    sub = hub.subscribe("passage_done", maxlen=3)
    for i in range(5):
        hub.emit("passage_done", n=i)
    hub.emit("other")
    assert sub.dropped == 2
    got = [(await sub.get(timeout=0.1)).data["n"] for _ in range(3)]
    assert got == [2, 3, 4]
    assert hub.counts == {"passage_done": 5, "other": 1}


async def test_get_times_out():
    sub = EventHub("x").subscribe()
    try:
        await sub.get(timeout=0.01)
    except asyncio.TimeoutError:
        pass
    else:
        raise AssertionError("expected timeout")
