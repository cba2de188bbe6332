"""session.json and the end-of-session summary table."""
from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kinds import Health

if TYPE_CHECKING:
    from ..flow.session import ExamSession
    from ..site import Site
    from .people import Person


def build_report(*, session: "ExamSession", site: "Site", people: list["Person"], health: dict[str, Health],
                 selfcheck: dict[str, bool], seed: int, speed: float, wall_s: float,
                 store_records: int, store_head: str) -> dict[str, Any]:
    by_number = {p.id_number: p for p in people}
    candidates = []
    for key, st in session.people.items():
        number = st.card.id_number if st.card else (st.candidate.id_number if st.candidate else "")
        p = by_number.get(number)
        entry: dict[str, Any] = {
            "id": key,
            "name_latin": st.candidate.name_latin if st.candidate else (p.name_latin if p else ""),
            "outcome": st.outcome or "unknown",
            "seat": st.seat,
            "score": st.score,
            "attempts": len(st.attempts),
            "attempt_scores": list(st.attempts),
            "scenario": p.role if p else "",
        }
        if st.outcome in ("refused", "sanctioned"):
            entry["reason"] = st.reason
        if st.sheet_sha256:
            entry["sheet_sha256"] = st.sheet_sha256
        candidates.append(entry)
    candidates.sort(key=lambda c: c["id"])
    devices = []
    for role, dev in site.devices.items():
        h = health[role]
        d = dev.describe()
        devices.append({"role": role, "kind": d["kind"], "driver": site.config.devices[role].driver,
                        "url_scheme": d["url_scheme"], "health": "ok" if h.ok else "fault",
                        "state": h.state.value, "detail": h.detail, "info": d["info"]})
    events: Counter[str] = Counter()
    for dev in site.devices.values():
        for typ, n in dev.events.counts.items():
            events[f"device.{typ}"] += n
    for rec in session.store.records():
        events[rec.type] += 1
    gate_ms = [f["ms"] for f in session.face_checks if f["where"] == "gate"]
    all_ms = [f["ms"] for f in session.face_checks]
    outcomes = Counter(c["outcome"] for c in candidates)
    ups_final = session.ups_log[-1] if session.ups_log else None
    return {
        "session_id": session.roster.session_id,
        "site": {"id": site.config.site_id, "name": site.config.name, "seats": site.config.seats},
        "seed": seed,
        "clock_speed": speed,
        "wall_time_s": round(wall_s, 2),
        "outcomes": dict(outcomes),
        "candidates": candidates,
        "devices": devices,
        "selfcheck": {"ok": all(selfcheck.values()), "failed": sorted(r for r, ok in selfcheck.items() if not ok)},
        "face_checks": session.face_checks,
        "face_check_ms": {"median": _median(all_ms), "gate_median": _median(gate_ms),
                          "gate_max": max(gate_ms) if gate_ms else None, "count": len(all_ms)},
        "events": dict(sorted(events.items())),
        "ups": {"polls": len(session.ups_log), "final": ups_final,
                "on_battery_polls": sum(1 for e in session.ups_log if e.get("source") == "battery"),
                "log": session.ups_log},
        "store": {"records": store_records, "head_sha256": store_head, "chain_verified": True},
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def write_report(report: dict[str, Any], directory: Path) -> Path:
    path = directory / "session.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def print_summary(report: dict[str, Any]) -> None:
    out = report["outcomes"]
    print("\nSession summary")
    print("-" * 72)
    print(f"{'outcome':<14}{'candidates':>10}")
    for k in ("passed", "failed", "refused", "sanctioned"):
        print(f"{k:<14}{out.get(k, 0):>10}")
    print("-" * 72)
    special = [c for c in report["candidates"] if c["scenario"] not in ("", "regular")]
    if special:
        print(f"{'candidate':<14}{'scenario':<44}{'outcome':<12}")
        for c in special:
            print(f"{c['id']:<14}{c['scenario'][:43]:<44}{c['outcome']:<12}")
        print("-" * 72)
    fm = report["face_check_ms"]
    print(f"face checks: {fm['count']}, median {fm['median']} ms, gate median {fm['gate_median']} ms, "
          f"gate max {fm['gate_max']} ms")
    ups = report["ups"]
    final = ups["final"] or {}
    print(f"UPS: {ups['polls']} polls, {ups['on_battery_polls']} on battery, final {final.get('source')} "
          f"{' '.join(final.get('flags', []))}")
    bad = [d["role"] for d in report["devices"] if d["health"] != "ok"]
    print(f"devices: {len(report['devices'])}, unhealthy at end: {', '.join(bad) or 'none'}")
    print(f"records: {report['store']['records']} (hash chain verified), wall time {report['wall_time_s']} s")
