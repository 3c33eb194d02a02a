"""Benchmark: rounds, bytes per round and the wall time at a network latency.

    python benchmarks/latency.py [--one-way-ms 20] [--check-ms 5]
                                 [--clearings admm interior-point] [--cases market flex]
                                 [--plain] [--polish]

Over a network every ADMM iteration is a round of messages and costs at least one round trip.
Per case (the default market at 30 and 60 min, entities and per building; flex sharing at
N = 1000): rounds (iterations, and the start and finish round trips), the encoded bytes per round
(the wire codec in process, as a networked transport sends them), the wall time measured here, and
the wall time at ``--one-way-ms`` (``ADMMResult.wall_time_at_latency``: two latencies per round
trip on top of what was measured). ``--check-ms`` runs each case once more with every message
really delayed by that latency (``Faults.latency``) and prints the measured against the
estimated time (the estimate counts the same round trips; the difference is the timer's
overshoot per sleep). ``--clearings`` picks the methods (``admm``, ``interior-point``: three
rounds per Newton iteration, each with the participants' sensitivity blocks; for flex sharing
the fleet's summed ones), ``--cases`` the problems.
Flex sharing by ADMM polishes by default (docs/admm.md 8c); ``--plain`` adds ADMM alone.
"""

from __future__ import annotations

import argparse

from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.flex_sharing import flex_sharing_coordinator, run_flex_sharing
from distributed_resource_optimization.interior_point.sharing import InteriorPointCoordinator
from distributed_resource_optimization.market.clearing import run_market_clearing
from distributed_resource_optimization.market.names import CLEARINGS
from distributed_resource_optimization.runtime.codec import WireCodec
from distributed_resource_optimization.runtime.transport import Faults, InProcessTransport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-way-ms", type=float, default=20.0)
    parser.add_argument("--check-ms", type=float, default=5.0)
    parser.add_argument("--clearings", nargs="+", choices=CLEARINGS, default=["admm"])
    parser.add_argument("--plain", action="store_true",
                        help="flex sharing by ADMM: also ADMM alone (polish=False; the default "
                        "polishes, docs/admm.md 8c)")
    parser.add_argument("--polish", action="store_true",
                        help="flex sharing by ADMM: also with polish=True asked for explicitly "
                        "(the default since session 21: the same run as admm)")
    parser.add_argument("--cases", nargs="+", choices=("market", "flex"),
                        default=["market", "flex"])
    args = parser.parse_args()
    one_way, check = args.one_way_ms / 1000.0, args.check_ms / 1000.0
    print(f"{'case':<46} {'rounds':>6} {'kB/round':>9} {'wall s':>7} "
          f"{'at ' + format(args.one_way_ms, 'g') + ' ms':>9} "
          f"{'measured/estimated at ' + format(args.check_ms, 'g') + ' ms':>32}")
    cases = []
    if "market" in args.cases:
        districts = {r: load_district(resolution=r) for r in ("30min", "60min")}
        cases += [(f"market thermal-congestion {r}, {a}" + ("" if c == "admm" else f", {c}"),
                   lambda r=r, a=a, c=c, **kw: run_market_clearing(
                       districts[r], "thermal-congestion", agents=a, clearing=c, **kw))
                  for c in args.clearings for r in ("30min", "60min")
                  for a in ("entities", "per-building")]
    if "flex" in args.cases:
        flex = {"admm": None, "interior-point": InteriorPointCoordinator}
        cases += [("flex sharing N = 1000" + ("" if c == "admm" else f", {c}"),
                   lambda c=c, **kw: run_flex_sharing(
                       1000, seed=0, coordinator=flex[c] and flex[c](), **kw))
                  for c in args.clearings]
        for wanted, polish, label in ((args.plain, False, "admm alone, polish=False"),
                                      (args.polish, True, "admm with polish=True")):
            if wanted:
                cases.append((f"flex sharing N = 1000, {label}",
                              lambda polish=polish, **kw: run_flex_sharing(
                                  1000, seed=0,
                                  coordinator=flex_sharing_coordinator(polish=polish), **kw)))
    for label, run in cases:
        transport = InProcessTransport(codec=WireCodec())
        admm = run(transport=transport).admm
        rounds = admm.round_trips
        per_round = transport.stats.bytes_sent / rounds / 1000.0
        delayed = run(transport=InProcessTransport(codec=WireCodec()),
                      faults=Faults.latency(check)).admm
        print(f"{label:<46} {rounds:>6} {per_round:>9.1f} {admm.wall_time_s:>7.2f} "
              f"{admm.wall_time_at_latency(one_way):>9.2f} "
              f"{delayed.wall_time_s:>15.2f} / {admm.wall_time_at_latency(check):.2f}")


if __name__ == "__main__":
    main()
