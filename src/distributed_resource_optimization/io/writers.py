"""What each command writes into its (temporary) output folder: tables, ``summary.json`` and
figures of one finished run. Running is the caller's job; these functions only write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from distributed_resource_optimization.io.plots import (
    figure_captions,
    save_figure,
    write_district_figures,
)
from distributed_resource_optimization.io.report import write_report
from distributed_resource_optimization.io.summary import (
    SUMMARY_FILE,
    centralized_summary,
    flex_summary,
    market_summary,
    verification_summary,
    write_json,
)
from distributed_resource_optimization.io.tables import (
    ACTORS_FILE,
    DISPATCH_FILE,
    PRICE_COMPONENTS_FILE,
    PRICES_FILE,
    RESIDUALS_FILE,
    VERIFICATION_FILE,
    centralized_frames,
    engine_history_frame,
    flex_actor_frame,
    market_frames,
    residual_frame,
    verification_frame,
)
from distributed_resource_optimization.io.warm_start import STATE_FILE, state_frame

if TYPE_CHECKING:
    from distributed_resource_optimization.energy.centralized import CentralizedResult
    from distributed_resource_optimization.energy.district import DistrictData
    from distributed_resource_optimization.energy.verification import Verification
    from distributed_resource_optimization.flex_sharing import FlexSharingResult
    from distributed_resource_optimization.market.clearing import MarketResult

#: Figure 3 of the study (``dro market-clearing --method admm|both``): primal residuals, with
#: the dual residuals and rho below.
PRIMAL_RESIDUALS_FIGURE = "primal_residuals.png"
#: The convergence of ``dro flex-sharing``: certified gap and residuals.
RESIDUALS_FIGURE = "residuals.png"


def write_centralized(result: CentralizedResult, out_dir: Path | str, wall_time_s: float,
                      verifications: Mapping[str, Verification] | None = None,
                      linearisation: Mapping | None = None) -> dict[str, Path]:
    """Write ``summary.json``, ``dispatch.csv``, ``prices.csv`` and ``price_components.csv`` into
    ``out_dir`` (created if needed), with ``verifications`` (dispatch name -> its
    :class:`~..energy.verification.Verification`) also ``verification.csv`` and the summary's
    ``verification``, and with ``linearisation`` its entries (``linearisation``, and after
    successive linearisation ``linearisation_rounds`` and ``linearisation_converged``);
    returns the paths by short name."""
    return _write_centralized(result, Path(out_dir), wall_time_s, verifications,
                              linearisation)[0]


def _write_centralized(result: CentralizedResult, out: Path, wall_time_s: float,
                       verifications: Mapping[str, Verification] | None,
                       linearisation: Mapping | None) -> tuple[dict[str, Path], dict]:
    """:func:`write_centralized`, also returning the summary it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    dispatch, prices, components = centralized_frames(result)
    paths = {"dispatch": out / DISPATCH_FILE, "prices": out / PRICES_FILE,
             "price_components": out / PRICE_COMPONENTS_FILE, "summary": out / SUMMARY_FILE}
    dispatch.to_csv(paths["dispatch"], index=False)
    prices.to_csv(paths["prices"], index=False)
    components.to_csv(paths["price_components"], index=False)
    summary = centralized_summary(result, wall_time_s)
    verification = _add_physics(out, summary, verifications, linearisation)
    if verification is not None:
        paths["verification"] = verification
    write_json(paths["summary"], summary)
    return paths, summary


def _add_physics(out: Path, summary: dict, verifications: Mapping[str, Verification] | None,
                 linearisation: Mapping | None) -> Path | None:
    """Put the ``linearisation`` entries and the ``verification`` into ``summary`` and write
    ``verification.csv`` (its path; ``None`` without ``verifications``)."""
    summary.update(linearisation or {})
    if not verifications:
        return None
    path = out / VERIFICATION_FILE
    verification_frame(verifications).to_csv(path, index=False)
    summary["verification"] = verification_summary(verifications)
    return path


def write_centralized_run(out: Path, result: CentralizedResult, wall_time_s: float,
                          scenario: str, verifications: Mapping[str, Verification] | None = None,
                          linearisation: Mapping | None = None, *, figures: bool = True) -> None:
    """``dro market-clearing --method centralized``: :func:`write_centralized`, the district's
    figures (:func:`~.plots.write_district_figures`; none if not ``figures``) and
    ``report.html`` into ``out``; ``wall_time_s`` is the run's time (s)."""
    _, summary = _write_centralized(result, out, wall_time_s, verifications, linearisation)
    drawn = write_district_figures(
        out, result.plot, district=result.problem.district,
        verification=(verifications or {}).get("centralized")) if figures else {}
    write_report(out, summary, figure_captions(drawn),
                 f"Centralized operation of the district ({scenario})")


def write_market_clearing(out: Path, district: DistrictData, market: MarketResult,
                          central: CentralizedResult, comparison: Mapping[str, float], *,
                          method: str, scenario: str, wall_central_s: float,
                          wall_admm_s: float,
                          verifications: Mapping[str, Verification] | None = None,
                          linearisation: Mapping | None = None,
                          clearings: Sequence[MarketResult] | None = None,
                          figures: bool = True) -> None:
    """``dro market-clearing --method admm|both``: the centralized price components, the ADMM
    entities' dispatch and price rows of ``district``'s timesteps and DERs (``both``: after the
    centralized rows), ``residuals.csv``, ``admm_state.csv``, ``summary.json`` (the centralized
    summary with the market's entries and both times in s), with ``verifications`` also
    ``verification.csv`` and the summary's ``verification``, and figures 1-3 into ``out``.
    ``clearings``: every clearing of a successive linearisation (``market`` last): their
    residuals, each with its ``round``; the figures show ``market`` (none if not ``figures``:
    ``report.html`` then holds the summary alone)."""
    c_dispatch, c_prices, components = centralized_frames(central)
    components.to_csv(out / PRICE_COMPONENTS_FILE, index=False)
    m_dispatch, m_prices = market_frames(market, district.timesteps, district.der_names)
    if method == "both":
        dispatch = pd.concat([c_dispatch, m_dispatch], ignore_index=True)
        prices = pd.concat([c_prices, m_prices], ignore_index=True)
    else:
        dispatch, prices = m_dispatch, m_prices
    dispatch.to_csv(out / DISPATCH_FILE, index=False)
    prices.to_csv(out / PRICES_FILE, index=False)
    # Every clearing of a successive linearisation, its rounds numbered (the last is market).
    rounds = [residual_frame(m, k) for k, m in enumerate(clearings or [market], 1)]
    pd.concat(rounds, ignore_index=True).to_csv(out / RESIDUALS_FILE, index=False)
    state_frame(market.admm).to_csv(out / STATE_FILE, index=False)
    summary = centralized_summary(central, wall_central_s)
    summary["method"] = method
    summary.update(market_summary(market, central, comparison))
    summary["wall_time_s"] = {"centralized": wall_central_s, "admm": wall_admm_s}
    _add_physics(out, summary, verifications, linearisation)
    write_json(out / SUMMARY_FILE, summary)
    drawn = {}
    if figures:
        # What the market decided, next to the centralized optimum it is compared with.
        drawn = write_district_figures(out, market.plot, reference=central, district=district,
                                       verification=(verifications or {}).get("market"))
        drawn["primal_residuals"] = save_figure(market.plot.convergence(),
                                                out / PRIMAL_RESIDUALS_FIGURE)
    write_report(out, summary, figure_captions(drawn),
                 f"Market clearing of the district ({scenario})")


def write_flex_sharing(out: Path, result: FlexSharingResult, title: str,
                       gap_tol: float | None = None, *, figures: bool = True) -> None:
    """``dro flex-sharing``: ``summary.json``, ``actors.csv``, ``residuals.csv``,
    ``admm_state.csv`` (what ``--warm-start`` reads), the convergence figure (``title``; the
    certified gap against ``gap_tol``, the tolerance the run stopped on; none if not
    ``figures``) and ``report.html`` into ``out``."""
    summary = flex_summary(result)
    write_json(out / SUMMARY_FILE, summary)
    flex_actor_frame(result).to_csv(out / ACTORS_FILE, index=False)
    engine_history_frame(result.admm).to_csv(out / RESIDUALS_FILE, index=False)
    state_frame(result.admm).to_csv(out / STATE_FILE, index=False)
    drawn = {"residuals": save_figure(result.plot.convergence(gap_tol=gap_tol, title=title),
                                      out / RESIDUALS_FIGURE)} if figures else {}
    write_report(out, summary, figure_captions(drawn), title)
