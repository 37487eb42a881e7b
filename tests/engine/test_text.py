"""Token bytes become text: whole characters only, stop strings cut and withheld."""

from __future__ import annotations

from tripoint.engine.text import TextStream


def test_passes_text_through_without_stops() -> None:
    stream = TextStream(())

    pieces = [stream.feed(b"Once"), stream.feed(b" upon"), stream.flush()]

    assert pieces == ["Once", " upon", ""]


def test_holds_a_multibyte_character_until_it_is_whole() -> None:
    stream = TextStream(())
    euro = "€".encode()

    pieces = [stream.feed(euro[:1]), stream.feed(euro[1:]), stream.flush()]

    assert pieces == ["", "€", ""]


def test_cuts_at_a_stop_string_spanning_pieces() -> None:
    stream = TextStream(("\n\nUser:",))

    pieces = [stream.feed(b"Hi there."), stream.feed(b"\n\nUs"), stream.feed(b"er: more")]

    assert "".join(pieces) == "Hi there."
    assert stream.stopped
    assert stream.flush() == ""


def test_releases_withheld_text_that_was_not_a_stop() -> None:
    stream = TextStream(("STOP",))

    pieces = [stream.feed(b"a ST"), stream.feed(b"ART"), stream.flush()]

    assert "".join(pieces) == "a START"
    assert pieces[0] == "a "
    assert not stream.stopped


def test_earliest_of_several_stops_wins() -> None:
    stream = TextStream(("world", "lo"))

    text = stream.feed(b"hello world")

    assert text == "hel"
