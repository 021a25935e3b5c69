"""The Metadata tab: everything the metadata analysis read from the file, as a searchable tree.

Sections as the analysis reports them (EXIF IFDs and their tags, XMP, IPTC, ICC profile, the
embedded thumbnail, PNG text chunks, file times); nested mappings become branches, lists become
numbered children. Typing in the filter keeps the rows whose key or value contains the text
(case-insensitive), the branches that lead to them and the contents of a matching branch.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeView, QVBoxLayout, QWidget

__all__ = ["MetadataTree"]

MAX_VALUE_CHARS = 2000  # a long XMP packet or binary dump stays readable in one row
MAX_CHILDREN = 2000  # a list this long is cut (said in its last row)


def _value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + " …"


def _append(parent: QStandardItem, key: str, value: Any) -> None:
    key_item = QStandardItem(str(key))
    key_item.setEditable(False)
    if isinstance(value, dict):
        value_item = QStandardItem(f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}"
                                   if value else "none")
        for k, v in list(value.items())[:MAX_CHILDREN]:
            _append(key_item, str(k), v)
    elif isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple)
                                                 for v in value):
        value_item = QStandardItem(f"{len(value)} item{'' if len(value) == 1 else 's'}")
        for i, v in enumerate(value[:MAX_CHILDREN]):
            _append(key_item, f"[{i}]", v)
    elif isinstance(value, list | tuple):
        value_item = QStandardItem(_value_text(", ".join(_value_text(v) for v in value))
                                   if value else "none")
    else:
        value_item = QStandardItem(_value_text(value))
    value_item.setEditable(False)
    value_item.setToolTip(value_item.text()[:500])
    parent.appendRow([key_item, value_item])


class MetadataTree(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter (e.g. Make, GPS, Software, date)…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter the metadata")
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["Field", "Value"])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)  # keep the branches leading to a match
        self.proxy.setAutoAcceptChildRows(True)  # "GPS" shows the whole GPS IFD
        self.proxy.setFilterKeyColumn(-1)  # key or value
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAccessibleName("Metadata")
        self.tree.header().resizeSection(0, 220)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.filter_edit.textChanged.connect(self._filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)
        self.clear()

    def clear(self, message: str = "No metadata: no image shown or not analysed yet.") -> None:
        self.model.removeRows(0, self.model.rowCount())
        self.note.setText(message)

    def set_metadata(self, sections: dict[str, Any], note: str = "") -> None:
        """Show the metadata analysis' indicators (section -> contents)."""
        self.model.removeRows(0, self.model.rowCount())
        root = self.model.invisibleRootItem()
        for section, contents in sections.items():
            _append(root, section, contents)
        self.note.setText(note)
        self._filter(self.filter_edit.text())

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if text.strip():
            self.tree.expandAll()
        else:
            self.tree.collapseAll()
            for row in range(self.proxy.rowCount()):  # the sections open, their contents not
                self.tree.expand(self.proxy.index(row, 0))

    def visible_rows(self) -> list[tuple[str, str]]:
        """(field, value) of every row the filter leaves, depth first (for tests and export)."""
        rows: list[tuple[str, str]] = []

        def walk(parent) -> None:
            for r in range(self.proxy.rowCount(parent)):
                key = self.proxy.index(r, 0, parent)
                rows.append((key.data(), self.proxy.index(r, 1, parent).data()))
                walk(key)

        walk(self.tree.rootIndex())
        return rows

    def visible_leaves(self) -> list[tuple[str, str]]:
        """Like ``visible_rows`` but only rows without children (the actual fields)."""
        leaves: list[tuple[str, str]] = []

        def walk(parent) -> None:
            for r in range(self.proxy.rowCount(parent)):
                key = self.proxy.index(r, 0, parent)
                if self.proxy.rowCount(key):
                    walk(key)
                else:
                    leaves.append((key.data(), self.proxy.index(r, 1, parent).data()))

        walk(self.tree.rootIndex())
        return leaves
