"""XMP packets: found in a file's metadata and parsed (safely, with defusedxml) into flat entries.

XMP is RDF/XML. Every property becomes one entry ``{"prefix", "namespace", "property", "value"}``;
arrays of plain values (``rdf:Bag``/``Seq``/``Alt``) keep their items as a list, structures and
arrays of structures become paths such as ``xmpMM:History[2]/stEvt:action``. Nothing is dropped
silently: what cannot be parsed or is cut short is said in the caller's notes.
"""

from __future__ import annotations

import io
from typing import Any

from defusedxml import ElementTree as SafeET

__all__ = ["MAX_ENTRIES", "XmpEntry", "find_packets", "parse_packet"]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
_ARRAYS = {f"{{{RDF}}}Bag": "Bag", f"{{{RDF}}}Seq": "Seq", f"{{{RDF}}}Alt": "Alt"}
MAX_ENTRIES = 10_000  # per file: a packet of millions of properties is an attack, not a photo
MAX_VALUE_CHARS = 10_000  # per value (Photoshop's DocumentAncestors can run to megabytes)
MAX_PACKET_BYTES = 32 << 20
_MAX_DEPTH = 24
_MAX_RAW_PACKETS = 8

XmpEntry = dict[str, Any]


def find_packets(data: bytes, known: list[bytes]) -> list[tuple[str, bytes]]:
    """(where, packet) of the XMP packets to parse: those a decoder already found (``known``),
    else those a scan of the raw bytes finds (GIF, HEIF and other places Pillow does not read)."""
    if known:
        return [("metadata", p) for p in known if p]
    found: list[tuple[str, bytes]] = []
    pos = 0
    for _ in range(_MAX_RAW_PACKETS):
        start = data.find(b"<x:xmpmeta", pos)
        end_tag = b"</x:xmpmeta>"
        if start < 0:
            start = data.find(b"<rdf:RDF", pos)
            end_tag = b"</rdf:RDF>"
        if start < 0:
            break
        end = data.find(end_tag, start)
        if end < 0:
            found.append((f"byte {start}", data[start : start + MAX_PACKET_BYTES]))
            break
        found.append((f"byte {start}", data[start : end + len(end_tag)]))
        pos = end + len(end_tag)
    return found


def parse_packet(
    packet: bytes | str, notes: list[str], budget: int = MAX_ENTRIES
) -> list[XmpEntry]:
    """Every property of one XMP packet as entries (at most ``budget``). Raises on malformed XML."""
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    if len(packet) > MAX_PACKET_BYTES:
        notes.append(f"an XMP packet of {len(packet)} bytes is too large to parse; it was skipped.")
        return []
    prefixes: dict[str, str] = {}  # namespace URI -> the first prefix the packet gives it
    events = SafeET.iterparse(io.BytesIO(packet.strip(b"\x00 \t\r\n")), ("start-ns",))
    for _event, (prefix, uri) in events:
        prefixes.setdefault(uri, prefix)
    root = events.root  # type: ignore[attr-defined]
    walker = _Walker(prefixes, notes, budget)
    rdf_roots = [root] if root.tag == f"{{{RDF}}}RDF" else list(root.iter(f"{{{RDF}}}RDF"))
    for rdf in rdf_roots:
        for description in rdf.findall(f"{{{RDF}}}Description"):
            walker.description(description, None, None)
    if walker.dropped:
        notes.append(
            f"XMP: {walker.dropped} properties beyond the limit of {MAX_ENTRIES} were not listed."
        )
    return walker.entries


class _Walker:
    """Turns RDF property elements into entries, remembering the top-level property's namespace."""

    def __init__(self, prefixes: dict[str, str], notes: list[str], budget: int) -> None:
        self.prefixes = prefixes
        self.notes = notes
        self.budget = budget
        self.entries: list[XmpEntry] = []
        self.dropped = 0

    def qname(self, tag: str) -> str:
        if tag.startswith("{"):
            uri, _, local = tag[1:].partition("}")
            prefix = self.prefixes.get(uri)
            return f"{prefix}:{local}" if prefix else f"{{{uri}}}{local}"
        return tag

    def emit(self, tag: str, path: str, value: Any, top: str | None) -> None:
        if len(self.entries) >= self.budget:
            self.dropped += 1
            return
        uri = (top or tag)[1:].partition("}")[0] if (top or tag).startswith("{") else ""
        self.entries.append(
            {
                "prefix": self.prefixes.get(uri, ""),
                "namespace": uri,
                "property": path,
                "value": [_clip(v) for v in value] if isinstance(value, list) else _clip(value),
            }
        )

    def description(self, element: Any, path: str | None, top: str | None, depth: int = 0) -> None:
        """Properties written as attributes and as child elements of an rdf:Description."""
        for name, value in element.attrib.items():
            if name.startswith((f"{{{RDF}}}", f"{{{XML}}}")) or not name.startswith("{"):
                continue
            self.emit(name, _join(path, self.qname(name)), value, top)
        for child in element:
            self.property(child, _join(path, self.qname(child.tag)), top or child.tag, depth + 1)

    def property(self, element: Any, path: str, top: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.notes.append(f"XMP nested deeper than {_MAX_DEPTH} levels at {path}; not read.")
            return
        resource = element.get(f"{{{RDF}}}resource")
        if resource is not None:
            self.emit(element.tag, path, resource, top)
            return
        children = list(element)
        if not children:
            fields = [n for n in element.attrib if n.startswith("{") and not _is_rdf_or_xml(n)]
            if fields:  # a structure written in attribute shorthand
                self.description(element, path, top, depth)
            else:
                self.emit(element.tag, path, _lang_text(element), top)
            return
        first = children[0]
        if first.tag in _ARRAYS:
            items = first.findall(f"{{{RDF}}}li")
            if all(_is_plain(li) for li in items):
                self.emit(element.tag, path, [_lang_text(li) for li in items], top)
            else:
                for i, li in enumerate(items, 1):
                    self.property(li, f"{path}[{i}]", top, depth + 1)
            return
        if first.tag == f"{{{RDF}}}Description":  # a structure as a nested resource
            for description in children:
                self.description(description, path, top, depth)
            return
        self.description(element, path, top, depth)  # rdf:parseType="Resource"


def _join(path: str | None, name: str) -> str:
    return name if path is None else f"{path}/{name}"


def _is_rdf_or_xml(name: str) -> bool:
    return name.startswith((f"{{{RDF}}}", f"{{{XML}}}"))


def _is_plain(li: Any) -> bool:
    """An array item that is just text (maybe with xml:lang), not a structure or resource."""
    if len(li) or li.get(f"{{{RDF}}}resource") is not None:
        return False
    return not any(n.startswith("{") and not _is_rdf_or_xml(n) for n in li.attrib)


def _lang_text(element: Any) -> str:
    text = (element.text or "").strip()
    lang = element.get(f"{{{XML}}}lang")
    return f"[{lang}] {text}" if lang and lang != "x-default" else text


def _clip(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]} […; {len(text)} characters in all]"
