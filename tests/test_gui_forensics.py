"""The forensic analyses in the window (offscreen): without a model, after the tiny model, per
image and per content, drawn as layers over the image and the close-ups, the metadata tree and
the loupe. Real files, real analyses; the model is the tiny Qwen2.5-VL taught one answer.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QColor, QImage, QTextDocument  # noqa: E402

from inspector.core.casestore import CaseStore  # noqa: E402
from inspector.core.forensics import ANALYSIS_NAMES, analysis_module  # noqa: E402
from inspector.core.pipeline import ForensicResultReady, TokenGenerated  # noqa: E402
from inspector.gui.forensic_layers import COLOUR_LUT, crop_qimage, map_qimage  # noqa: E402
from inspector.gui.forensic_store import ALONE, MODEL, SAVED, available_analyses  # noqa: E402
from inspector.gui.loupe import MAGNIFICATION  # noqa: E402
from inspector.gui.main_window import MainWindow  # noqa: E402
from inspector.gui.settings import AppSettings  # noqa: E402
from tests.conftest import skimage_photo  # noqa: E402
from tests.test_gui_workflow import LONG, _factory  # noqa: E402

NAMES = list(available_analyses())


@pytest.fixture
def settings_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "settings.toml"
    monkeypatch.setenv("LTE_SETTINGS", str(path))
    return path


def _window(qtbot, case_folder: Path, factory=None) -> MainWindow:
    window = MainWindow(AppSettings(examiner="J. Doe", animation=False), factory,
                        case_folder=case_folder)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def bare(qtbot, tmp_path, settings_file):
    """The window with no model configured at all."""
    window = _window(qtbot, tmp_path / "case")
    yield window
    window.close()


def _jpeg(path: Path, photo: str = "astronaut", size=(400, 300), quality: int = 90,
          make: str = "Canon") -> Path:
    """A real photograph as a camera-like JPEG (EXIF Make and Model)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, "EOS 5D"
    path.parent.mkdir(parents=True, exist_ok=True)
    skimage_photo(photo).resize(size).save(path, quality=quality, exif=exif.tobytes())
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shown_complete(window, qtbot, path: Path, timeout: int = 60_000):
    """Wait until the forensic results of ``path`` as it is now are all on screen."""
    key = (str(path), _sha(path))
    qtbot.waitUntil(lambda: window.forensics.shown_key() == key
                    and window.forensics.shown_entry() is not None
                    and window.forensics.shown_entry().complete, timeout=timeout)
    return window.forensics.shown_entry()


def _show(window, qtbot, path: Path):
    window.show_path(str(path))
    return _shown_complete(window, qtbot, path)


def _map_layer(entry) -> str:
    """An analysis that drew a map on this image (ELA and noise first: always a map)."""
    order = ["ela", "noise"] + [n for n in ANALYSIS_NAMES if n not in ("ela", "noise")]
    return next(n for n in order if n in entry.results and entry.results[n].map is not None)


# -- without a model -----------------------------------------------------------------------------


def test_every_analysis_runs_without_a_model_and_says_it_is_not_saved(bare, qtbot, tmp_path):
    photo = _jpeg(tmp_path / "evidence" / "a.jpg")
    bare.add_paths([photo])
    entry = _shown_complete(bare, qtbot, photo)
    assert list(ANALYSIS_NAMES) == NAMES  # every analysis is installed and shown
    assert entry.origin == ALONE and bare.forensics_panel.names() == NAMES
    assert bare.queue_model.item(str(photo)).display_text().endswith("model not loaded")
    panel_text = bare.forensics_panel.text()
    assert "Not saved in the case: no model analysis" in panel_text
    assert _sha(photo)[:16] in bare.forensics_panel.status.text()
    for name in NAMES:
        result = entry.results[name]
        assert result.error is None, f"{name} failed on a plain JPEG: {result.error}"
        assert result.title in bare.forensics_panel.row_text(name)
        assert result.statement and result.statement in panel_text
        assert analysis_module(name).LIMITS.split(".")[0] in panel_text  # every limit on show
    assert analysis_module("ela").LIMITS.split(".")[0] in panel_text  # ELA's caveat on show
    assert not bare.view.alert() and bare.view.region_numbers() == []  # no model, no boxes


def test_a_layer_lies_over_the_image_with_its_geometry_opacity_and_legend(bare, qtbot, tmp_path):
    photo = _jpeg(tmp_path / "evidence" / "a.jpg")
    bare.add_paths([photo])
    entry = _shown_complete(bare, qtbot, photo)
    name = _map_layer(entry)
    result = entry.results[name]
    bar, overlay = bare.layer_bar, bare.forensics.overlay
    assert overlay.map_item() is None and not bar.legend_visible()
    bare.forensics_panel.select(name)  # selecting its row shows the layer
    assert bar.shown() == name and bar.button(name).isChecked()
    other = next(n for n in bar.layers() if n != name)
    bar.button(other).click()  # and choosing a layer selects its row
    assert bare.forensics_panel.current_name() == other and bar.shown() == other
    bare.forensics_panel.select(name)
    item = overlay.map_item()
    assert item is not None and item.scene() is bare.view.scene()
    assert item.mapRectToScene(item.boundingRect()) == bare.view.image_rect()
    assert bare.view.image_rect().size().toTuple() == (400, 300)
    assert item.zValue() > bare.view.pixmap_item().zValue() and item.isVisible()
    h, w = result.map.shape
    assert (item.pixmap().width(), item.pixmap().height()) == (w, h)
    y, x = np.unravel_index(int(np.argmax(result.map)), result.map.shape)
    assert QColor(item.pixmap().toImage().pixel(int(x), int(y))).getRgb()[:3] == tuple(
        int(c) for c in COLOUR_LUT[result.map[y, x]])
    assert item.opacity() == pytest.approx(0.6)
    bar.opacity.setValue(25)
    assert item.opacity() == pytest.approx(0.25)
    assert bar.legend_visible() and bar.legend.text() == (result.map_legend or "bright = high")
    assert bar.ramp.isVisible()
    bar.button(name).click()  # the same toggle hides it again
    assert bar.shown() is None and overlay.map_item() is None and item.scene() is None
    assert not bar.legend_visible()


def test_a_spectrum_is_drawn_beside_its_finding_never_over_the_image(bare, qtbot, tmp_path):
    """A spectrum's pixels are frequencies, not places: laid over the photo (or cut under a
    close-up) it would point at areas it says nothing about."""
    photo = _jpeg(tmp_path / "evidence" / "a.jpg")
    bare.add_paths([photo])
    entry = _shown_complete(bare, qtbot, photo)
    spectrum = entry.results["spectrum"]
    assert spectrum.map is not None and not spectrum.map_spatial
    assert "spectrum" not in bare.layer_bar.layers() and "ela" in bare.layer_bar.layers()
    bare.forensics_panel.select("spectrum")
    assert bare.layer_bar.shown() is None and bare.forensics.overlay.map_item() is None
    details = bare.forensics_panel.details
    shown = details.loadResource(QTextDocument.ResourceType.ImageResource.value,
                                 QUrl("forensic-map:spectrum"))
    assert isinstance(shown, QImage) and shown.size().toTuple() == spectrum.map.shape[::-1]
    assert "forensic-map:spectrum" in details.toHtml()


def test_cloned_regions_are_outlined_in_their_own_style_and_joined(bare, qtbot, tmp_path):
    from PIL import ImageOps

    from inspector.core.palette import REGION_COLOURS

    photo = ImageOps.fit(skimage_photo("astronaut"), (600, 450))
    photo.paste(photo.crop((150, 190, 240, 280)), (440, 310))  # the badge, cloned
    path = tmp_path / "evidence" / "clone.jpg"
    path.parent.mkdir(parents=True)
    photo.save(path, quality=92)
    bare.add_paths([path])
    entry = _shown_complete(bare, qtbot, path)
    clone = entry.results["copy_move"]
    assert clone.indicators["detected"] and len(clone.indicators["pairs"]) == 1
    assert "copy_move" in bare.layer_bar.layers()
    bare.layer_bar.button("copy_move").click()
    overlay = bare.forensics.overlay
    pair = clone.indicators["pairs"][0]
    outlines = overlay.region_items()
    assert len(outlines) == 3  # the two boxes and the arrow from the source to the target
    rects = [item.path().boundingRect() for item in outlines[:2]]
    assert [[r.left(), r.top(), r.right(), r.bottom()] for r in rects] == [
        [float(v) for v in r.box] for r in clone.regions]
    assert {tuple(r.box) for r in clone.regions} == {tuple(pair["source"]), tuple(pair["target"])}
    source_c = QRectF(QPointF(*pair["source"][:2]), QPointF(*pair["source"][2:])).center()
    target_c = QRectF(QPointF(*pair["target"][:2]), QPointF(*pair["target"][2:])).center()
    assert outlines[2].path().elementAt(0).x == source_c.x()
    assert (outlines[2].path().elementAt(1).x, outlines[2].path().elementAt(1).y) == (
        target_c.x(), target_c.y())
    assert overlay.tags() == [r.label for r in clone.regions]
    palette = {QColor(c).rgb() for c, _ in REGION_COLOURS}
    for item in outlines:  # black under white dashes: none of the numbered boxes' colours
        assert item.pen().color().rgb() not in palette and item.pen().isCosmetic()
        assert item.zValue() < 10  # under the model's numbered boxes
    bare.layer_bar.choose(None)
    assert overlay.region_items() == [] and overlay.tags() == []


def test_the_metadata_tree_filters_to_the_matching_fields(bare, qtbot, tmp_path):
    photo = _jpeg(tmp_path / "evidence" / "a.jpg", make="Canon")
    bare.add_paths([photo])
    _shown_complete(bare, qtbot, photo)
    tree = bare.metadata_tree
    everything = tree.visible_leaves()
    assert {("Make", "Canon"), ("Model", "EOS 5D")} <= set(everything)
    assert {section for section, _ in tree.visible_rows()} >= {"exif", "file_times"}
    tree.filter_edit.setText("Make")
    leaves = tree.visible_leaves()
    assert ("Make", "Canon") in leaves
    assert all("make" in f"{k} {v}".lower() for k, v in leaves)
    assert ("Model", "EOS 5D") not in leaves and len(leaves) < len(everything)
    assert tree.tree.isExpanded(tree.proxy.index(0, 0))  # the way to the match is open
    tree.filter_edit.setText("")
    assert tree.visible_leaves() == everything


def test_the_loupe_shows_the_pixels_under_the_cursor_at_4x(bare, qtbot, tmp_path):
    photo = _jpeg(tmp_path / "evidence" / "a.jpg")
    bare.add_paths([photo])
    _shown_complete(bare, qtbot, photo)
    assert not bare.loupe.isVisible()
    bare.view.setFocus()
    qtbot.keyClick(bare.view, Qt.Key.Key_L)  # the loupe's key
    assert bare.loupe_action.isChecked() and bare.loupe.is_active()
    viewport = bare.view.viewport()
    pos = bare.view.mapFromScene(200.5, 150.5)
    qtbot.mouseMove(viewport, pos)
    loupe = bare.loupe
    assert loupe.isVisible() and loupe.is_full_resolution()  # the view holds the whole image
    assert not loupe.geometry().contains(pos)  # beside the cursor, never over it
    assert viewport.rect().contains(loupe.geometry())
    x, y = bare.view.pixel_at(pos)
    decoded = Image.open(photo).convert("RGB")
    c = loupe.span // 2
    assert QColor(loupe.pixels().pixel(c, c)).getRgb()[:3] == decoded.getpixel((x, y))
    assert QColor(loupe.pixels().pixel(c + 3, c - 2)).getRgb()[:3] == decoded.getpixel(
        (x + 3, y - 2))
    big = loupe.magnified()  # each image pixel a 4×4 block
    assert big.width() == loupe.span * MAGNIFICATION
    for dx, dy in ((0, 0), (3, 3), (1, 2)):
        assert big.pixel(c * MAGNIFICATION + dx, c * MAGNIFICATION + dy) == loupe.pixels().pixel(
            c, c)
    bare.loupe_action.trigger()
    assert not loupe.isVisible()


def test_over_a_preview_the_loupe_fetches_full_resolution_pixels(bare, qtbot, tmp_path):
    photo = _jpeg(tmp_path / "evidence" / "big.jpg", photo="chelsea", size=(2600, 1800))
    bare.settings.forensics = False  # only the loupe here
    bare.show_path(str(photo))
    qtbot.waitUntil(lambda: bare.displayed_path == str(photo), timeout=30_000)
    assert bare.view.is_preview()
    bare.loupe_action.setChecked(True)
    pos = bare.view.mapFromScene(1300.5, 900.5)
    qtbot.mouseMove(bare.view.viewport(), pos)
    assert bare.loupe.isVisible()
    qtbot.waitUntil(bare.loupe.is_full_resolution, timeout=30_000)
    x, y = bare.view.pixel_at(pos)
    c = bare.loupe.span // 2
    decoded = Image.open(photo).convert("RGB")
    assert QColor(bare.loupe.pixels().pixel(c, c)).getRgb()[:3] == decoded.getpixel((x, y))
    assert "Forensic analyses are off" in bare.forensics_panel.text()


def test_each_image_shows_its_own_results_and_a_changed_file_none_of_the_old(
        bare, qtbot, tmp_path):
    a = _jpeg(tmp_path / "evidence" / "a.jpg", quality=90)
    b = _jpeg(tmp_path / "evidence" / "b.jpg", photo="coffee", quality=75)
    bare.add_paths([a, b])
    first = _shown_complete(bare, qtbot, a)
    assert first.results["jpeg"].indicators["quality"] == 90
    second = _show(bare, qtbot, b)
    assert second.sha256 == _sha(b) and second.results["jpeg"].indicators["quality"] == 75
    runs = bare.forensics.runs_alone
    again = _show(bare, qtbot, a)
    assert again is first and bare.forensics.runs_alone == runs  # kept, not computed again
    assert first.results["jpeg"].statement in bare.forensics_panel.row_text("jpeg")
    # the file is overwritten with other pixels: new results of the new bytes, none of the old
    old_sha = _sha(a)
    _jpeg(a, photo="coffee", quality=75)
    bare.show_path(str(b))
    changed = _show(bare, qtbot, a)
    assert changed.sha256 != old_sha and changed is not first
    assert changed.results["jpeg"].indicators["quality"] == 75
    assert old_sha[:16] not in bare.forensics_panel.text()


def test_switching_away_cancels_a_forensics_run_and_keeps_no_partial_results(
        bare, qtbot, tmp_path):
    a = _jpeg(tmp_path / "evidence" / "a.jpg", size=(1600, 1200))
    b = _jpeg(tmp_path / "evidence" / "b.jpg", photo="coffee")
    bare.add_paths([a, b])
    qtbot.waitUntil(lambda: bare.forensics.shown_key() == (str(a), _sha(a)), timeout=30_000)
    bare.show_path(str(b))  # before a's analyses are done
    _shown_complete(bare, qtbot, b)
    qtbot.waitUntil(lambda: not bare.forensics._jobs, timeout=60_000)
    partial = bare.forensics.store.get(str(a), _sha(a))
    assert partial is None or partial.complete and set(partial.results) == set(NAMES)
    # back to a before its stopped run has ended: a new run, and in the end all of a's results
    bare.forensics.store.clear()
    runs = bare.forensics.runs_alone
    for path in (a, b, a):  # within one turn of the event loop: no run can have reported
        bare.forensics.show(str(path), _sha(path), (400, 300))
    assert bare.forensics.runs_alone == runs + 3
    entry = _shown_complete(bare, qtbot, a)
    assert set(entry.results) == set(NAMES) and entry.failure is None


# -- with the tiny model -------------------------------------------------------------------------


@pytest.fixture
def modelled(qtbot, taught_case, tmp_path, settings_file):
    window = _window(qtbot, tmp_path / "case", _factory(taught_case.model_dir))
    yield window
    window.close()


def test_after_the_model_the_forensics_are_shown_and_saved_with_the_analysis(
        modelled, qtbot, taught_case, tmp_path):
    image = tmp_path / "evidence" / "a.jpg"
    image.parent.mkdir()
    shutil.copy(taught_case.image_path, image)
    order: list[str] = []
    modelled.host.pipeline_event.connect(
        lambda path, event: order.append("forensic" if isinstance(event, ForensicResultReady)
                                         else "token" if isinstance(event, TokenGenerated)
                                         else ""))
    with qtbot.waitSignal(modelled.queue.queue_idle, timeout=LONG):
        modelled.add_paths([image])
    modelled.flush_case_writes()
    # the analyses ran after the model's two answers, in the worker
    assert order.count("forensic") == len(NAMES)
    assert max(i for i, e in enumerate(order) if e == "token") < order.index("forensic")
    analysis = modelled.records[str(image)].analysis
    assert modelled.displayed_path == str(image)  # followed live: said at once, not on reselect
    assert "saved in case" in modelled.forensics_panel.status.text()
    entry = _show(modelled, qtbot, image)
    assert entry.origin == MODEL and entry.analysis_id == analysis.id
    assert modelled.forensics_panel.names() == NAMES
    assert "saved in case" in modelled.forensics_panel.status.text()
    # in the case: every result, and each map as a PNG of the map's size
    stored = CaseStore.open(tmp_path / "case").get(analysis.id)
    assert set(stored.forensics) == set(NAMES)
    for name, record in stored.forensics.items():
        kept = entry.results[name].map
        assert (record["map"] is None) == (kept is None)
        if kept is not None:
            with Image.open(tmp_path / "case" / record["map"]) as png:
                assert np.array_equal(np.asarray(png), kept)
    # the layer over the close-ups: the map under each close-up's crop
    assert modelled.strip.count() == 2
    name = _map_layer(entry)
    modelled.layer_bar.choose(name)
    coloured = map_qimage(entry.results[name].map)
    boxes = {c.region: c.crop_box for c in analysis.closeups}
    for thumb in modelled.strip.thumbs():
        assert thumb.overlay() is not None and thumb.overlay_opacity() == pytest.approx(0.6)
        size = (thumb.pixmap().width(), thumb.pixmap().height())
        expected = crop_qimage(coloured, boxes[thumb.number], (analysis.evidence.width,
                                                               analysis.evidence.height), size)
        assert thumb.overlay().toImage() == expected.convertToFormat(
            thumb.overlay().toImage().format())
    # read back from the case (the window forgot them): the same results and maps
    modelled.forensics.store.clear()
    modelled.show_path(str(image))
    qtbot.waitUntil(lambda: modelled.forensics.shown_entry() is not None, timeout=30_000)
    saved = modelled.forensics.shown_entry()
    assert saved.origin == SAVED and set(saved.results) == set(NAMES)
    for other in NAMES:
        before, after = entry.results[other].map, saved.results[other].map
        assert (before is None and after is None) or np.array_equal(before, after)
    assert modelled.layer_bar.shown() == name and modelled.forensics.overlay.map_item()


def test_a_file_changed_after_its_analysis_never_shows_the_recorded_forensics(
        modelled, qtbot, taught_case, tmp_path):
    image = tmp_path / "evidence" / "swap.jpg"
    image.parent.mkdir()
    shutil.copy(taught_case.image_path, image)
    with qtbot.waitSignal(modelled.queue.queue_idle, timeout=LONG):
        modelled.add_paths([image])
    modelled.flush_case_writes()
    recorded = modelled.records[str(image)].analysis
    _jpeg(image, photo="coffee", size=(400, 300), quality=75)  # other pixels, same name
    modelled.show_path(str(image))
    qtbot.waitUntil(lambda: "FILE CHANGED" in modelled.view.alert(), timeout=30_000)
    entry = _shown_complete(modelled, qtbot, image)
    assert entry.sha256 != recorded.evidence.sha256 and entry.origin == ALONE
    assert "Not saved in the case: no model analysis" in modelled.forensics_panel.text()
    assert recorded.evidence.sha256[:16] not in modelled.forensics_panel.text()
    assert entry.results["jpeg"].indicators["quality"] == 75
    name = _map_layer(entry)
    modelled.layer_bar.choose(name)
    item = modelled.forensics.overlay.map_item()
    assert item.mapRectToScene(item.boundingRect()).size().toTuple() == (400, 300)
    assert modelled.strip.count() == 0  # the old close-ups stay hidden, with no layer on them
