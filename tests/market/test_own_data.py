"""Each organisation from its own data: the split folders hold exactly what each entity reads,
an entity built from its folder alone equals the one built from the whole district, and only
exchange vectors, prices, rho and declared metadata travel between them."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import distributed_resource_optimization.energy.tables as tables
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR
from distributed_resource_optimization.local.blocks import publish_and_configure
from distributed_resource_optimization.market.clearing import run_market_clearing
from distributed_resource_optimization.market.entities import (
    GRID_OPERATORS,
    REFERENCE_DEMAND,
    REFERENCE_POWERS_KEY,
    load_entity,
    market_entities,
)
from distributed_resource_optimization.market.split import split_data
from distributed_resource_optimization.runtime.codec import WireCodec
from distributed_resource_optimization.runtime.messages import (
    FinishReply,
    FinishRequest,
    JoinReply,
    JoinRequest,
    SetupReply,
    SetupRequest,
    SolveReply,
    SolveRequest,
)
from distributed_resource_optimization.runtime.transport import InProcessTransport

SCENARIO = "electric-congestion"  # both grids' limits


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return split_data(tmp_path_factory.mktemp("split"), agents="per-building")


@pytest.fixture(scope="module")
def district():
    return load_district(resolution="60min")


class _Reads:
    """Records the data files read while building an entity."""

    def __init__(self, monkeypatch) -> None:
        self.paths: set[str] = set()
        original = tables.read_table

        def read_table(folder, relative, *args, **kwargs):
            self.paths.add(relative)
            return original(folder, relative, *args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("distributed_resource_optimization") \
                    and getattr(module, "read_table", None) is original:
                monkeypatch.setattr(module, "read_table", read_table)


@pytest.mark.parametrize("entity", ["thermal_grid_operator", "electric_grid_operator",
                                    "building_22", "building_1"])
def test_split_folder_holds_exactly_what_the_entity_reads(entity, split, monkeypatch):
    reads = _Reads(monkeypatch)
    load_entity(entity, split[entity], SCENARIO, "60min")
    files = {str(p.relative_to(split[entity])) for p in split[entity].rglob("*") if p.is_file()}
    assert files == reads.paths


def test_a_building_folder_holds_only_its_own_rows(split):
    import pandas as pd

    folder = split["building_22"]
    for relative in ("buildings/buildings.csv", "buildings/zones.csv", "buildings/scenarios.csv",
                     "grid/electric_grid_ders.csv", "grid/thermal_grid_ders.csv"):
        frame = pd.read_csv(folder / relative, dtype=str)
        assert len(frame) == 1, relative
    ders = pd.read_csv(folder / "grid/electric_grid_ders.csv", dtype=str)
    assert ders["der_name"].tolist() == ["22"]
    # The grid operators' folders hold no building data at all.
    assert not (split["thermal_grid_operator"] / "buildings").exists()
    assert not (split["electric_grid_operator"] / "grid/thermal_grids.csv").exists()


def _configured(entities):
    publish_and_configure(entities)
    return {e.name: e for e in entities}


@pytest.mark.slow
def test_entities_from_their_own_folders_equal_the_district_ones(split, district):
    """Bitwise the same LP blocks and penalty scales: the data separation changes nothing."""
    ref = _configured(market_entities(district, SCENARIO, agents="per-building"))
    own = _configured([load_entity(name, folder, SCENARIO, "60min")
                       for name, folder in split.items()])
    assert list(own) == list(ref)
    for name, entity in own.items():
        a, b = entity.block, ref[name].block
        assert entity.variables == ref[name].variables
        np.testing.assert_array_equal(entity.rho_scale, ref[name].rho_scale)
        for field in ("c", "b_eq", "b_ub", "lb", "ub"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        assert (a.A_eq != b.A_eq).nnz == 0 and (a.A_ub != b.A_ub).nnz == 0


def test_only_the_buildings_publish_and_only_their_reference_demand(district):
    entities = market_entities(district, SCENARIO, agents="per-building")
    for e in entities:
        published = e.publish()
        if e.name.startswith("building_"):
            assert set(published) == {REFERENCE_DEMAND}
            assert published[REFERENCE_DEMAND].shape == (e.size,)
        else:
            assert published is None


class RecordingCarrier(InProcessTransport):
    def __init__(self) -> None:
        super().__init__(codec=WireCodec())  # what travels is what the codec encodes
        self.log: list = []

    async def send(self, sender, receiver, message):
        self.log.append((sender, receiver, message))
        await super().send(sender, receiver, message)


def test_only_exchange_vectors_prices_rho_and_declared_metadata_travel(district):
    carrier = RecordingCarrier()
    market = run_market_clearing(district, SCENARIO, agents="per-building", max_iters=3,
                                 carrier=carrier)
    entities = {e.name: e for e in market_entities(district, SCENARIO, agents="per-building")}
    sizes = {name: e.size for name, e in entities.items()}
    allowed = {
        JoinRequest: {"session", "protocol_version"},
        # context: what the agent was started for (scenario, data fingerprint), no data
        # subscriptions, derives: which publication keys it reads and derives (names only);
        # bound_at_support: which of its actors the bound prices at their own support prices
        JoinReply: {"session", "names", "sizes", "variables", "publications",
                    "protocol_version", "error", "context", "subscriptions", "derives",
                    "bound_at_support"},
        SetupRequest: {"session", "publications", "relinearise"},
        SetupReply: {"session", "rho_scale", "error", "publications"},
        # dual_price: prices for the Lagrangian bound; dual_term and objective: one scalar each
        SolveRequest: {"session", "iteration", "target", "price", "rho", "dual_price"},
        SolveReply: {"session", "iteration", "x", "error", "dual_term", "objective"},
        FinishRequest: {"session", "x", "status", "dual_price"},
        # outputs: only after an interior-point run for sharing (its rounds carry sums);
        # None here (the coordinator has every entity's exchanged values)
        FinishReply: {"session", "objectives", "error", "rejected", "carrier_rejected",
                      "carrier_id", "dual_term", "outputs"},
    }
    counts = dict.fromkeys(allowed, 0)
    exchanged = {v for e in entities.values() for v in e.variables}
    for sender, receiver, m in carrier.log:
        counts[type(m)] += 1
        assert set(vars(m)) == allowed[type(m)]
        assert not isinstance(m, FinishReply) or m.outputs is None
        agent = receiver if sender == "coordinator" else sender
        n = sizes[agent]
        if isinstance(m, SolveRequest):
            assert m.target.shape == m.price.shape == (n,) and isinstance(m.rho, float)
            assert m.dual_price is None or m.dual_price.shape == (n,)
        elif isinstance(m, (SolveReply, FinishRequest)):
            assert m.x.shape == (n,)
            if isinstance(m, SolveReply):
                assert all(v is None or isinstance(v, float) for v in (m.dual_term, m.objective))
            else:
                assert m.dual_price is None or m.dual_price.shape == (n,)
        elif isinstance(m, FinishReply):
            assert m.objectives.shape == (1,)  # the entity's own cost
            assert m.rejected == 0 and isinstance(m.carrier_id, str)  # counts, no data
            assert m.dual_term is None or isinstance(m.dual_term, float)
        elif isinstance(m, SetupReply):
            assert len(m.rho_scale) == 1 and m.rho_scale[0].shape == (n,)
            # a grid operator derives the district's three reference powers, nobody else anything
            if agent in GRID_OPERATORS:
                assert [(p.key, p.variables) for p in m.publications] == \
                    [(REFERENCE_POWERS_KEY, ("p_th", "p", "q"))]
            else:
                assert m.publications == ()
        elif isinstance(m, JoinReply):
            assert m.variables == (entities[agent].variables,) and m.sizes == (n,)
            assert m.bound_at_support == ((agent,) if agent in GRID_OPERATORS else ())
            for pub in m.publications:  # a building's baseline, aligned with its variables
                assert pub.key == REFERENCE_DEMAND and pub.variables == entities[agent].variables
        elif isinstance(m, SetupRequest):
            # the grid operators get every baseline, the buildings three numbers: O(N) in all
            if agent in GRID_OPERATORS:
                assert [p.key for p in m.publications] == [REFERENCE_DEMAND]
                assert set(m.publications[0].variables) == exchanged
            else:
                assert [(p.key, p.values.size) for p in m.publications] == \
                    [(REFERENCE_POWERS_KEY, 3)]
    n_agents = len(entities)
    resent = market.admm.resent_requests  # each adds a request and a repeated reply
    assert counts[SolveRequest] + counts[JoinRequest] + counts[SetupRequest] \
        + counts[FinishRequest] == n_agents * (market.iterations + 3) + resent
    assert sum(counts.values()) == 2 * n_agents * (market.iterations + 3) + 2 * resent
    assert all(counts[t] >= n_agents for t in (JoinRequest, JoinReply, SetupRequest, SetupReply,
                                               FinishRequest, FinishReply))


def test_embedded_folder_is_the_default_source(tmp_path):
    folders = split_data(tmp_path, DEFAULT_DATA_DIR)
    assert set(folders) == {"thermal_grid_operator", "electric_grid_operator", "aggregator"}


def test_agents_of_a_file_run_in_the_order_spawned_agents_do(district):
    from distributed_resource_optimization.market.entities import entity_names
    from distributed_resource_optimization.market.processes import run_order

    names = entity_names(district.der_names, "per-building")
    shuffled = list(reversed(names))
    assert run_order(shuffled) == names


def test_process_groups_keep_each_grid_operator_alone(district):
    """``agents_per_process``: the grid operators one process each, the buildings in run
    order K to a process, every entity in exactly one process."""
    from distributed_resource_optimization.market.entities import entity_names
    from distributed_resource_optimization.market.names import GRID_OPERATORS
    from distributed_resource_optimization.market.processes import process_groups

    names = entity_names(district.der_names, "per-building")
    for k in (1, 5, 8, 22, 100):
        groups = process_groups(names, k)
        assert [n for g in groups.values() for n in g] == names
        for operator in GRID_OPERATORS:
            assert groups[operator] == [operator]
        buildings = [g for label, g in groups.items() if label not in GRID_OPERATORS]
        assert len(buildings) == -(-district.n_der // k)
        assert all(len(g) <= k for g in buildings)
    assert process_groups(names, 8)["building_1..building_8"] == names[2:10]
    with pytest.raises(ValueError, match="agents_per_process"):
        process_groups(names, 0)
