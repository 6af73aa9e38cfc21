"""``python -m devstack up|down|status [SERVICE ...]``: run the local stack of real services."""
from __future__ import annotations

import argparse
import logging
import sys

from devstack.services import HOST, SERVICES, StackError, by_name

log = logging.getLogger("devstack")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("services", nargs="*", help=f"default: all ({', '.join(s.name for s in SERVICES)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s")
    try:
        services = by_name(args.services)
        if args.action == "up":
            for svc in services:
                log.info("%-7s %s:%d %s", svc.name, HOST, svc.port, svc.up())
        elif args.action == "down":
            for svc in reversed(services):
                log.info("%-7s %s", svc.name, svc.down())
        else:
            down = 0
            for svc in services:
                state = svc.status()
                down += not state.startswith("healthy")
                log.info("%-7s %s:%d %s", svc.name, HOST, svc.port, state)
            return 1 if down else 0
    except StackError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
