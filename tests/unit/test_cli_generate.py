"""`headwater generate`: the advance fractions are refused, clearly, without --advance."""

from __future__ import annotations

from pathlib import Path

from headwater.cli import main


def test_fractions_without_advance_are_a_clear_error_and_write_nothing(hw_home: Path, capsys):
    assert main(["generate", "travel_bookings", "--new-fraction", "0.01"]) == 2
    assert "--new-fraction and --update-fraction go with --advance" in capsys.readouterr().out
    assert not (hw_home / "sources").exists() or not any((hw_home / "sources").iterdir())
