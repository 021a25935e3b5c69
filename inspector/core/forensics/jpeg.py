"""JPEG structure: quantisation tables, estimated quality, subsampling, scans, restart markers.

The file's marker segments are read directly from its bytes (no pixel decoding), so this costs a
few milliseconds even on a large photograph. The tables are returned in natural (row-major)
order. We parse the DQT segments ourselves rather than use Pillow's ``quantization`` because that
attribute changed order between versions (zigzag, as stored in the file, before Pillow 8.3;
natural order since, python-pillow/Pillow#4989); reading the bytes makes the order independent of
the installed Pillow. The tests check that both agree on this Pillow.

Quality is estimated the way libjpeg (IJG) makes its tables: the example tables of ITU-T T.81
Annex K scaled by ``5000 / Q`` (Q < 50) or ``200 - 2 Q`` per cent, rounded, clamped to 1..255.
The best-matching Q over 1..100 is reported, and whether the file's tables are exactly that IJG
table (as written by libjpeg, libjpeg-turbo, Pillow, OpenCV, GIMP and most software) or differ
(camera firmware, Photoshop and some editors use their own tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.core.forensics.base import ForensicInput, ForensicResult

NAME = "jpeg"
TITLE = "JPEG structure"
LIMITS = (
    "The quality is the closest libjpeg (IJG) quality to the file's quantisation tables; software "
    "with its own tables (cameras, some editors) has no exact IJG quality. The tables describe the "
    "last compression only: they cannot show whether the picture was compressed before (see the "
    "double-JPEG analysis) or edited in between."
)

# ITU-T T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), natural order.
ANNEX_K_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int32)  # fmt: skip
ANNEX_K_CHROMA = np.full(64, 99, dtype=np.int32)
ANNEX_K_CHROMA[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [
    17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 47, 66
]


def _zigzag_key(n: int) -> tuple[int, int]:
    """Anti-diagonal d = row + column first; odd diagonals run down (row rising), even ones up."""
    row, diagonal = n // 8, n // 8 + n % 8
    return diagonal, row if diagonal % 2 else -row


# ZIGZAG[i] = natural (row-major) index of the i-th coefficient in the file's zigzag order.
ZIGZAG = np.array(sorted(range(64), key=_zigzag_key))

_QUALITIES = np.arange(1, 101)


def ijg_tables(quality: int | np.ndarray, base: np.ndarray = ANNEX_K_LUMA) -> np.ndarray:
    """libjpeg's ``jpeg_set_quality(quality, force_baseline=TRUE)`` table(s), natural order.

    A scalar quality gives shape (64,); an array of qualities gives (len, 64).
    """
    q = np.clip(np.asarray(quality, dtype=np.int64), 1, 100)
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    table = (base.astype(np.int64) * scale[..., None] + 50) // 100
    return np.clip(table, 1, 255).astype(np.int32)


_IJG_LUMA = ijg_tables(_QUALITIES, ANNEX_K_LUMA)  # (100, 64), row Q-1
_IJG_CHROMA = ijg_tables(_QUALITIES, ANNEX_K_CHROMA)


@dataclass
class JpegStructure:
    """What the marker segments of one JPEG file say."""

    tables: dict[int, list[int]] = field(default_factory=dict)  # table id -> 64 steps, natural
    components: list[tuple[int, int, int, int]] = field(default_factory=list)  # id, h, v, table
    frame_marker: int | None = None  # 0xC0 baseline, 0xC1 extended, 0xC2 progressive, ...
    width: int = 0
    height: int = 0
    restart_interval: int = 0  # MCUs between restart markers (DRI); 0 = none
    restart_markers: int = 0  # RSTn markers found in the entropy-coded data
    scans: int = 0

    @property
    def progressive(self) -> bool:
        return self.frame_marker in (0xC2, 0xC6, 0xCA, 0xCE)

    def component_table(self, index: int) -> list[int] | None:
        """The quantisation table of component ``index`` (0 = luma), natural order."""
        if index >= len(self.components):
            return None
        return self.tables.get(self.components[index][3])

    @property
    def subsampling(self) -> str | None:
        """Chroma subsampling as J:a:b, named like Pillow's ``get_sampling`` (plus rarer ones)."""
        if len(self.components) == 1:
            return "none (greyscale)"
        if len(self.components) != 3:
            return f"other ({len(self.components)} components)"
        (_, h0, v0, _), (_, h1, v1, _), (_, h2, v2, _) = self.components
        if (h1, v1) != (h2, v2) or h0 % h1 or v0 % v1:
            return "other"
        names = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0",
                 (4, 1): "4:1:1", (4, 2): "4:1:0"}  # fmt: skip
        return names.get((h0 // h1, v0 // v1), "other")


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def parse_jpeg(data: bytes) -> JpegStructure | None:
    """Walk the marker segments of the first image in ``data``; None if it is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    info = JpegStructure()
    n = len(data)
    pos = 2
    markers: np.ndarray | None = None  # positions of real markers after the first scan
    rst: np.ndarray | None = None
    while pos + 1 < n:
        if data[pos] != 0xFF:  # garbage between segments: resynchronise on the next 0xFF
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                break
            pos = nxt
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            pos += 2
            continue
        if pos + 4 > n:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xDB and info.scans == 0:
            _read_dqt(segment, info.tables)
        elif marker in _SOF_MARKERS and info.frame_marker is None and len(segment) >= 6:
            info.frame_marker = marker
            info.height = int.from_bytes(segment[1:3], "big")
            info.width = int.from_bytes(segment[3:5], "big")
            for c in range(min(segment[5], (len(segment) - 6) // 3)):
                cid, hv, tq = segment[6 + 3 * c : 9 + 3 * c]
                info.components.append((cid, hv >> 4, hv & 15, tq))
        elif marker == 0xDD and len(segment) >= 2:
            info.restart_interval = int.from_bytes(segment[:2], "big")
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data follows the scan header up to the next marker
            info.scans += 1
            if markers is None:
                markers, rst = _entropy_markers(data)
            i = int(np.searchsorted(markers, pos))
            end = int(markers[i]) if i < len(markers) else n
            assert rst is not None
            info.restart_markers += int(np.searchsorted(rst, end) - np.searchsorted(rst, pos))
            pos = end
    return info


def _read_dqt(segment: bytes, tables: dict[int, list[int]]) -> None:
    """A DQT segment holds one or more tables, each stored in zigzag order."""
    i = 0
    while i < len(segment):
        precision, table_id = segment[i] >> 4, segment[i] & 15
        size = 128 if precision else 64
        raw = segment[i + 1 : i + 1 + size]
        if len(raw) < size:
            return
        dtype = ">u2" if precision else "u1"
        zigzag = np.frombuffer(raw, dtype=dtype).astype(np.int64)
        natural = np.empty(64, dtype=np.int64)
        natural[ZIGZAG] = zigzag
        tables[table_id] = [int(v) for v in natural]
        i += 1 + size


def _entropy_markers(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Positions of real markers and of RSTn markers, found with one vectorised pass.

    Inside entropy-coded data a 0xFF byte is followed by 0x00 (stuffing), by 0xD0-0xD7 (restart)
    or by a fill 0xFF; anything else starts a marker.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    ff = np.flatnonzero(arr[:-1] == 0xFF)
    following = arr[ff + 1]
    is_rst = (following >= 0xD0) & (following <= 0xD7)
    is_marker = (following != 0x00) & (following != 0xFF) & ~is_rst
    return ff[is_marker], ff[is_rst]


@dataclass(frozen=True)
class QualityMatch:
    quality: int
    error: float  # mean absolute difference per table entry from the IJG tables of that quality
    exact: bool  # the tables are exactly IJG's for that quality


def estimate_ijg_quality(luma: list[int], chroma: list[int] | None = None) -> QualityMatch:
    """The IJG quality whose tables best match (mean absolute difference; ties -> higher Q)."""
    errors = np.abs(_IJG_LUMA - np.asarray(luma)[None, :]).sum(axis=1).astype(np.float64)
    count = 64
    if chroma is not None:
        errors += np.abs(_IJG_CHROMA - np.asarray(chroma)[None, :]).sum(axis=1)
        count = 128
    best = int(len(errors) - 1 - np.argmin(errors[::-1]))  # last minimum: highest quality
    return QualityMatch(int(_QUALITIES[best]), float(errors[best]) / count, errors[best] == 0)


def _empty_indicators() -> dict[str, Any]:
    keys = ("quality", "tables", "subsampling", "progressive", "standard_tables",
            "restart_interval", "restart_markers", "scans", "quality_match_error")  # fmt: skip
    return dict.fromkeys(keys)


def analyze(evidence: ForensicInput) -> ForensicResult:
    info = parse_jpeg(evidence.data)
    if info is None or evidence.format not in ("JPEG", "MPO"):
        why = f"Not a JPEG file ({evidence.format}); there are no JPEG tables to read."
        return ForensicResult.not_applicable(NAME, TITLE, LIMITS, why, **_empty_indicators())
    indicators = _empty_indicators()
    tables = [info.tables[k] for k in sorted(info.tables)]
    luma = info.component_table(0)
    chroma = info.component_table(1)
    parts: list[str] = []
    if luma is not None:
        match = estimate_ijg_quality(luma, chroma)
        indicators.update(
            quality=match.quality,
            standard_tables=bool(match.exact),
            quality_match_error=round(match.error, 3),
        )
        if match.exact:
            parts.append(f"Quantisation tables match IJG quality {match.quality} exactly "
                         "(standard IJG tables: libjpeg and most software)")  # fmt: skip
        else:
            parts.append(f"Custom quantisation tables (camera or editor-specific), closest to "
                         f"IJG quality {match.quality} (mean difference {match.error:.1f} per "
                         "step)")  # fmt: skip
    else:
        parts.append("No quantisation tables found (lossless or damaged JPEG)")
    mode = "progressive" if info.progressive else "baseline"
    if info.frame_marker not in (0xC0, 0xC2):
        mode = {0xC1: "extended sequential", 0xC3: "lossless"}.get(
            info.frame_marker or 0, f"SOF{(info.frame_marker or 0xC0) - 0xC0}")
    scans = f"{info.scans} scan{'s' if info.scans != 1 else ''}"
    restarts = (f"restart interval {info.restart_interval} MCUs ({info.restart_markers} RST "
                "markers)" if info.restart_interval else "no restart markers")  # fmt: skip
    parts += [f"{info.subsampling} subsampling", f"{mode}, {scans}", restarts]
    indicators.update(
        tables=tables,
        subsampling=info.subsampling,
        progressive=info.progressive,
        restart_interval=info.restart_interval,
        restart_markers=info.restart_markers,
        scans=info.scans,
    )
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement="; ".join(parts) + ".",
        limits=LIMITS,
        indicators=indicators,
        parameters={
            "quality_model": "IJG (libjpeg) scaling of ITU-T T.81 Annex K tables, Q 1-100",
            "table_order": "natural (row-major)",
            "frame_size": [info.width, info.height],
            "components": [list(c) for c in info.components],
        },
    )
