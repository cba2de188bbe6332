"""Command line: ``examhw demo | plugins | check-config``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .config import load_site, validate_site
from .errors import ConfigError, ExamHwError
from .kinds import DeviceKind
from .plugins import PluginHost


def cmd_plugins(args: argparse.Namespace) -> int:
    try:
        host = PluginHost.load(strict=args.strict)
    except ExamHwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reg = host.registry
    if args.json:
        out = {
            "plugins": [{"name": n, "dist": d, "version": v} for n, d, v in host.loaded],
            "kinds": {k.value: {"drivers": sorted(s.name for s in reg.drivers_for(k)),
                                "simulators": sorted(s.name for s in reg.simulators_for(k))}
                      for k in DeviceKind},
            "photo_decoders": sorted(reg.photo_decoders),
            "failures": [f.__dict__ for f in host.failures],
        }
        print(json.dumps(out, indent=2))
        return 1 if host.failures and args.strict else 0
    print("Plugins loaded:")
    for name, dist, ver in host.loaded:
        print(f"  {name:24} {dist} {ver}")
    print("\nDevice kinds:")
    for kind in DeviceKind:
        print(f"  {kind.value}")
        for d in sorted(reg.drivers_for(kind), key=lambda s: s.name):
            sim = f"  (sim: {d.simulator})" if d.simulator else ""
            print(f"    driver     {d.name:28} [{d.plugin}] schemes: {', '.join(d.schemes)}{sim}")
        for s in sorted(reg.simulators_for(kind), key=lambda s: s.name):
            print(f"    simulator  {s.name:28} [{s.plugin}] {s.transport}")
        if not reg.drivers_for(kind):
            print("    (no driver)")
    if reg.photo_decoders:
        print("\nID photo decoders: " + ", ".join(sorted(reg.photo_decoders)))
    if host.failures:
        print("\nPlugins that failed to load:")
        for f in host.failures:
            print(f"  {f.name} ({f.dist} {f.version}): {f.error}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_site(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    host = PluginHost.load()
    problems = validate_site(config, host.registry, check_secrets=not args.no_secrets)
    for p in problems:
        print(f"{args.file}: {p}", file=sys.stderr)
    if not problems:
        print(f"{args.file}: OK ({len(config.devices)} devices, {config.seats} seats)")
    return 1 if problems else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo_cli
    return run_demo_cli(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="examhw", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("plugins", help="list drivers and simulators by kind, and broken plugins")
    sp.add_argument("--strict", action="store_true", help="fail if any plugin fails to load")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_plugins)
    sc = sub.add_parser("check-config", help="validate a site TOML file")
    sc.add_argument("file")
    sc.add_argument("--no-secrets", action="store_true", help="do not require secrets to resolve")
    sc.set_defaults(fn=cmd_check_config)
    sd = sub.add_parser("demo", help="run one whole simulated exam session")
    sd.add_argument("--config", help="site TOML (default: the bundled 100-seat demo site)")
    sd.add_argument("--report", help="write DIR/session.json")
    sd.add_argument("--seed", type=int, default=None, help="seed for the simulated world (seats stay random)")
    sd.add_argument("--speed", type=float, default=600.0, help="site clock speed-up (default 600x)")
    sd.add_argument("--candidates", type=int, default=100, help="booked candidates (default 100; at least 90, the special cases sit at fixed places in the queue)")
    sd.add_argument("--quiet", action="store_true", help="no progress bar")
    sd.set_defaults(fn=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
