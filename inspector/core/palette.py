"""Region colours shared by the desktop view and the PDF report (Qt-free).

The Okabe–Ito palette stays distinguishable under the common colour-vision deficiencies. Black is
left out: boxes are drawn over photographs, where it would vanish in shadows. Region numbers are
1-based and cycle through the palette, so box 1 is the same orange on screen and on paper.
"""

from __future__ import annotations

__all__ = ["REGION_COLOURS", "region_colour", "region_text_colour"]

# (fill / stroke colour, the text colour that reads on it)
REGION_COLOURS: tuple[tuple[str, str], ...] = (
    ("#E69F00", "#000000"),  # orange
    ("#56B4E9", "#000000"),  # sky blue
    ("#009E73", "#FFFFFF"),  # bluish green
    ("#F0E442", "#000000"),  # yellow
    ("#0072B2", "#FFFFFF"),  # blue
    ("#D55E00", "#FFFFFF"),  # vermillion
    ("#CC79A7", "#000000"),  # reddish purple
)


def _index(number: int) -> int:
    return (int(number) - 1) % len(REGION_COLOURS)


def region_colour(number: int) -> str:
    """The colour (``#RRGGBB``) of region ``number`` (1-based; numbers cycle)."""
    return REGION_COLOURS[_index(number)][0]


def region_text_colour(number: int) -> str:
    """The text colour (black or white) that reads on :func:`region_colour` of ``number``."""
    return REGION_COLOURS[_index(number)][1]
