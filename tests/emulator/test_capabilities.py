"""The client's catalogue and the emulator's own capability table agree (a disagreement is a failure here,
not something the emulator silently copies)."""

from __future__ import annotations

import pytest

from qbo_ingest.catalogue import CATALOGUE, Entity
from qbo_ingest.local.emulator.capabilities import SCHEMA


@pytest.mark.parametrize("entity", CATALOGUE, ids=lambda e: e.name)
def test_catalogue_entry_matches_the_emulator(entity: Entity) -> None:
    cap = SCHEMA.get(entity.name)
    assert cap is not None, f"the emulator does not serve {entity.name}"
    assert cap.generated, entity.name
    assert (cap.kind, cap.cdc, cap.active_only_by_default) == (entity.kind, entity.cdc, entity.needs_active_filter)
    assert SCHEMA.property(entity.name, entity.replication_key) == entity.replication_key
    assert cap.key == (entity.response_key or entity.name)  # the JSON key its records come under
    if entity.needs_active_filter:
        assert "Active" in cap.properties


def test_emulator_serves_no_ingestable_entity_the_catalogue_lacks() -> None:
    """Every generated transaction/list entity of the emulator is in the client's catalogue (or listed here
    as deliberately not ingested)."""
    not_ingested = {"Attachable", "CompanyCurrency"}
    missing = set(SCHEMA.generated()) - {e.name for e in CATALOGUE} - not_ingested
    assert not missing


def test_the_emulator_does_not_import_the_catalogue() -> None:
    import grimp

    graph = grimp.build_graph("qbo_ingest", cache_dir=None)
    chains = graph.find_shortest_chains(importer="qbo_ingest.local.emulator", imported="qbo_ingest.catalogue")
    assert not chains
