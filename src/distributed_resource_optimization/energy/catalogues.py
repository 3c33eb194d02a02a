"""Standard catalogues of cables and pipes that planning rules size a network from.

One owner of these values: the synthetic district generator (:mod:`.synthetic`) sizes every line
from them, and ``benchmarks/physical_ratings.py`` sizes a planning variant of the embedded
district with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CableType:
    """A three-phase medium-voltage cable circuit: cross-section (mm2), resistance and reactance
    per phase (ohm/km), capacitance (nF/km), ampacity (A)."""

    cross_section_mm2: int
    resistance_ohm_per_km: float
    reactance_ohm_per_km: float
    capacitance_nf_per_km: float
    max_current_a: float

    @property
    def name(self) -> str:
        return f"NA2XS2Y_1x{self.cross_section_mm2}_RM25_12_20kV"

    def rating_kva(self, voltage_v: float) -> float:
        """Apparent power the circuit carries at its ampacity at line-to-line ``voltage_v``."""
        return float(np.sqrt(3.0) * voltage_v * self.max_current_a / 1000.0)


@dataclass(frozen=True)
class PipeType:
    """A steel pipe: nominal width (mm), inner diameter (m)."""

    nominal_width_mm: int
    inner_diameter_m: float

    @property
    def name(self) -> str:
        return f"EN10220_DN{self.nominal_width_mm}"

    @property
    def area_m2(self) -> float:
        return float(np.pi * self.inner_diameter_m ** 2 / 4.0)


#: NA2XS2Y 1xA RM/25 12/20 kV, one three-phase circuit of single cores (the values of
#: pandapower's standard types), smallest first.
CABLES: tuple[CableType, ...] = (
    CableType(70, 0.443, 0.132, 190.0, 220.0), CableType(95, 0.313, 0.132, 216.0, 252.0),
    CableType(120, 0.253, 0.119, 230.0, 283.0), CableType(150, 0.206, 0.116, 250.0, 319.0),
    CableType(185, 0.161, 0.117, 273.0, 362.0), CableType(240, 0.122, 0.112, 304.0, 421.0))

#: EN 10220 steel pipes (pandapipes' ``<DN>_ST<16`` inner diameters), smallest first.
PIPES: tuple[PipeType, ...] = (
    PipeType(300, 0.3127), PipeType(350, 0.3444), PipeType(400, 0.3938), PipeType(500, 0.4954),
    PipeType(600, 0.5974), PipeType(700, 0.6968), PipeType(800, 0.7970), PipeType(900, 0.8940),
    PipeType(1000, 0.9960), PipeType(1200, 1.1980))

#: Absolute roughness of the steel pipes, mm (commercial steel).
PIPE_ROUGHNESS_MM = 0.045


def smallest_cable(apparent_kva: float, voltage_v: float) -> CableType | None:
    """The smallest cable of :data:`CABLES` whose rating at ``voltage_v`` covers
    ``apparent_kva``; ``None`` if none does."""
    for cable in CABLES:
        if cable.rating_kva(voltage_v) >= apparent_kva:
            return cable
    return None


def smallest_pipe(flow_m3_s: float, max_velocity_m_s: float) -> PipeType | None:
    """The smallest pipe of :data:`PIPES` that carries ``flow_m3_s`` at no more than
    ``max_velocity_m_s``; ``None`` if none does."""
    for pipe in PIPES:
        if flow_m3_s / pipe.area_m2 <= max_velocity_m_s:
            return pipe
    return None
