"""Invisible characters of log text are shown as marks on the pages."""

from __future__ import annotations

from markupsafe import Markup

from service.web.inert import reveal


def test_bidi_and_zero_width_characters_are_shown_as_marks() -> None:
    assert reveal("user\u202egnp.exe") == "user⟪U+202E⟫gnp.exe"
    assert reveal("admin\u200bistrator\ufeff") == "admin⟪U+200B⟫istrator⟪U+FEFF⟫"
    assert reveal("\u2066x\u2069") == "⟪U+2066⟫x⟪U+2069⟫"


def test_control_characters_are_shown_as_their_symbols() -> None:
    assert reveal("a\x1b[31mb\x07\x7f") == "a␛[31mb␇␡"
    assert reveal("tab\tand\nnewline") == "tab\tand\nnewline"


def test_markup_stays_markup_and_other_values_pass() -> None:
    shown = reveal(Markup("<code>x\u200b</code>"))
    assert isinstance(shown, Markup) and shown == Markup("<code>x⟪U+200B⟫</code>")
    assert reveal(42) == 42 and reveal(None) is None
    assert reveal("plain") == "plain"
