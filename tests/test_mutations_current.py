"""The hand-mutation catalogue (``tests/test_mutations_catalogue.py``) still applies to today's code.

A catalogue entry whose original text no longer occurs in its file is reported ``stale`` by the runner and tests
nothing; this test makes such drift fail at once instead of when someone next runs the catalogue."""

from pathlib import Path

from tests.test_mutations_catalogue import MUTATIONS

ROOT = Path(__file__).resolve().parents[1]


def test_every_catalogued_mutation_still_finds_its_text():
    stale = [name for name, _, path, old, _, nth in MUTATIONS if (ROOT / path).read_text().count(old) < nth]
    assert stale == []


def test_mutation_names_are_unique_and_each_changes_its_text():
    names = [name for name, *_ in MUTATIONS]
    assert len(names) == len(set(names))
    assert all(old != new for _, _, _, old, new, _ in MUTATIONS)
