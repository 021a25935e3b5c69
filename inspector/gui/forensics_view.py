"""The window's forensic analyses: where they run, what is kept, and what is shown.

- *With a model*: the worker runs them after the model, on the bytes it analysed
  (``PipelineOptions.forensics``); each ``ForensicResultReady`` event lands here, and the maps go
  into the case with the analysis (``CaseSession.add_analysis(..., forensic_maps=)``).
- *Without one* (none configured, not loaded, failed to load, or an analysis that recorded none):
  they run alone, off the GUI thread, when the image is shown; kept in memory only, and the
  Forensics tab says so.
- Results are kept by path *and* SHA-256 (``forensic_store``): the window shows the results of
  the bytes on screen — never those of an earlier version of the file.

Shown in the Forensics tab (every analysis, its finding and limits), the Metadata tab, the layer
bar under the image (one map at a time, its opacity and legend), the image view (the map and the
analysis' regions) and the close-up strip (the same layer over each close-up).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from inspector.core.forensics import ForensicResult
from inspector.core.pipeline import ForensicResultReady, ImageLoaded
from inspector.core.results import Analysis
from inspector.gui.background import Background
from inspector.gui.forensic_items import ForensicOverlay
from inspector.gui.forensic_layers import crop_qimage, map_qimage
from inspector.gui.forensic_store import (
    ALONE,
    MODEL,
    SAVED,
    ChangedWhileReading,
    ForensicEntry,
    ForensicStore,
    available_analyses,
    load_saved,
    run_alone,
)
from inspector.gui.layer_bar import SHORT_NAMES

if TYPE_CHECKING:
    from inspector.gui.main_window import MainWindow

__all__ = ["ForensicsController", "forensic_names"]

NOT_SAVED = "Not saved in the case: no model analysis."
NEVER_CHANGES = "Shown beside the model's verdict; they never change it."


def _layer_map(result: ForensicResult):
    """The map to lay over the image: None for a map of something else than places (a
    spectrum), which the Forensics tab shows beside its finding instead."""
    return result.map if result.map is not None and result.map_spatial else None


def forensic_names(settings: Any) -> tuple[str, ...]:
    """The analyses to run under these settings (none when switched off)."""
    return available_analyses() if getattr(settings, "forensics", True) else ()


class ForensicsController(QObject):
    _arrived = Signal(int, object)  # job, ForensicResult — emitted on the forensics thread

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.store = ForensicStore()
        self.runner = Background(1, "forensics", self)  # never holds up the evidence reader
        self.overlay = ForensicOverlay(window.view)
        self._shown: tuple[str, str] | None = None  # (path, sha256) on screen
        self._size = (0, 0)  # the shown image's original pixels
        self._analysis: Analysis | None = None  # its verified model analysis, if any
        self._closeup_boxes: dict[int, list[float]] = {}
        self._live: dict[str, ForensicEntry] = {}  # path -> entry the worker is filling
        self._jobs: dict[int, tuple[ForensicEntry, threading.Event]] = {}
        self._next_job = 0
        self._drawn: tuple | None = None  # what the overlay shows: (key, name, result id)
        self._metadata_of: int | None = None  # id of the result the metadata tree shows
        self.runs_alone = 0  # forensics-only runs started (tests check results are reused)
        self._arrived.connect(self._on_arrived)
        window.host.pipeline_event.connect(self._on_event)
        window.queue.state_changed.connect(self._on_state)
        window.layer_bar.layer_changed.connect(self._layer_changed)
        window.layer_bar.opacity_changed.connect(self._opacity_changed)
        window.forensics_panel.layer_selected.connect(self._row_selected)

    # -- what is shown --------------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        return forensic_names(self.w.settings)

    def shown_key(self) -> tuple[str, str] | None:
        return self._shown

    def shown_entry(self) -> ForensicEntry | None:
        return self.store.get(*self._shown) if self._shown else None

    def clear(self, message: str = "Reading the file…") -> None:
        """Nothing shown (the window is between images)."""
        self._shown, self._analysis, self._closeup_boxes = None, None, {}
        self._drawn, self._metadata_of = None, None
        self.overlay.clear()
        self.w.strip.set_layer(None)
        self.w.forensics_panel.clear(message)
        self.w.metadata_tree.clear()
        self.w.layer_bar.set_layers([])

    def show(self, path: str, sha256: str | None, size: tuple[int, int],
             analysis: Analysis | None = None) -> None:
        """The image on screen is ``path`` holding ``sha256``; ``analysis`` is its model analysis
        when that was made of these very bytes. Shows what is known and starts what is missing."""
        if sha256 is None:
            self.clear("The file has not been read yet.")
            return
        key = (path, sha256)
        if key != self._shown:
            self.clear()
        self._shown, self._size = key, (int(size[0]), int(size[1]))
        self._analysis = analysis
        self._closeup_boxes = {c.region: c.crop_box for c in analysis.closeups} if analysis else {}
        self._cancel_jobs(except_key=key)
        entry = self.store.get(path, sha256)
        if entry is not None and self._abandoned(entry):  # back before its cancelled run ended
            self.store.drop(entry)
            entry = None
        if entry is None and analysis is not None and analysis.forensics:
            self._load_saved(path, sha256, analysis)
            return
        if entry is None and not self._model_will_run(path) and self.names():
            self._start_alone(path, sha256)
        self._render()

    def refresh(self) -> None:
        """Look again at the shown image (the model failed, an analysis ended)."""
        if self._shown is not None:
            self.show(*self._shown, self._size, self._analysis)

    def _model_will_run(self, path: str) -> bool:
        """The worker will analyse this file and run the forensics after the model. Not while a
        model is still loading (that can take minutes): the analyses run alone meanwhile."""
        queue, host = self.w.queue, self.w.host
        if host.model_state != "loaded" or not self.names():
            return False
        return path in queue.running or (path in queue.pending and not queue.is_stopped)

    # -- results from the worker (with the model) -------------------------------------------------

    def _on_event(self, path: str, event: Any) -> None:
        if isinstance(event, ImageLoaded) and self.names():
            entry = ForensicEntry(path, event.evidence.sha256, MODEL, self.names())
            self._live[path] = self.store.put(entry)
            self._cancel_jobs(except_key=None, only_key=(path, entry.sha256))
        elif isinstance(event, ForensicResultReady):
            entry = self._live.get(path)
            if entry is not None:
                entry.add(event.result)
                self._changed(entry)

    def _on_state(self, path: str, state: str) -> None:
        if state in ("failed", "cancelled"):
            entry = self._live.pop(path, None)
            if entry is not None and not entry.complete:
                self.store.drop(entry)  # partial: computed again when shown
            if self._shown is not None and self._shown[0] == path:
                self.refresh()

    def finish(self, path: str, analysis: Analysis) -> dict[str, Any]:
        """The model analysis of ``path`` is done: its forensic maps, for the case write."""
        entry = self._live.pop(path, None)
        if entry is None or entry.sha256 != analysis.evidence.sha256:
            return {}
        entry.complete, entry.analysis_id = True, analysis.id
        if self._shown == (path, entry.sha256):
            self._analysis = analysis
            self._closeup_boxes = {c.region: c.crop_box for c in analysis.closeups}
            self._drawn = None
            self._render()
        return entry.maps_for_case()

    # -- results without a model ----------------------------------------------------------------

    def _start_alone(self, path: str, sha256: str) -> None:
        names = self.names()
        entry = self.store.put(ForensicEntry(path, sha256, ALONE, names))
        self._next_job += 1
        job, cancel = self._next_job, threading.Event()
        self._jobs[job] = (entry, cancel)
        self.runs_alone += 1

        def deliver(result: ForensicResult) -> None:  # on the forensics thread
            # nothing once the window closes (shutdown() closes the runner first)
            self.runner.relay(lambda: self._arrived.emit(job, result))

        self.runner.submit(run_alone, self.w._resolve(path), sha256, names, deliver, cancel.is_set,
                           on_done=lambda _found: self._alone_ended(job, None),
                           on_error=lambda exc: self._alone_ended(job, exc))

    def _on_arrived(self, job: int, result: ForensicResult) -> None:
        if job in self._jobs:
            entry = self._jobs[job][0]
            entry.add(result)
            self._changed(entry)

    def _alone_ended(self, job: int, exc: BaseException | None) -> None:
        entry, cancel = self._jobs.pop(job, (None, None))
        if entry is None:
            return
        if cancel.is_set():  # the examiner moved on: partial results are not kept
            self.store.drop(entry)
            return
        entry.complete = True
        if isinstance(exc, ChangedWhileReading):
            entry.failure = "the file changed after it was shown; select it again"
        elif exc is not None:
            entry.failure = str(exc) or type(exc).__name__
        self._changed(entry)

    def _abandoned(self, entry: ForensicEntry) -> bool:
        """An unfinished forensics-only entry whose run was told to stop."""
        return not entry.complete and any(e is entry and cancel.is_set()
                                          for e, cancel in self._jobs.values())

    def _cancel_jobs(self, except_key: tuple[str, str] | None,
                     only_key: tuple[str, str] | None = None) -> None:
        for entry, cancel in self._jobs.values():
            key = (entry.path, entry.sha256)
            if key != except_key and (only_key is None or key == only_key):
                cancel.set()

    # -- results saved in a case ----------------------------------------------------------------

    def _load_saved(self, path: str, sha256: str, analysis: Analysis) -> None:
        case = self.w.cases.owner(analysis.id) or self.w.case
        root = case.root if case is not None else None
        key = (path, sha256)
        self.w.forensics_panel.clear("Reading the forensic results saved in the case…")

        def loaded(entry: ForensicEntry) -> None:
            self.store.put(entry)
            if self._shown == key:
                self._render()

        def failed(exc: BaseException) -> None:
            entry = ForensicEntry(path, sha256, SAVED, (), complete=True, analysis_id=analysis.id)
            entry.failure = f"the saved results could not be read from the case: {exc}"
            loaded(entry)

        self.w.loader.submit(load_saved, root, path, sha256, analysis.id,
                             dict(analysis.forensics or {}), on_done=loaded, on_error=failed)

    # -- drawing ----------------------------------------------------------------------------------

    def _changed(self, entry: ForensicEntry) -> None:
        if self._shown == (entry.path, entry.sha256):
            self._render()

    def _status(self, entry: ForensicEntry) -> str:
        done, total = len(entry.results), len(entry.expected)
        bytes_ = f"Results for the file's current bytes (SHA-256 {entry.sha256[:16]}…)."
        if entry.failure:
            return f"The forensic analyses could not run: {entry.failure}"
        if entry.origin == MODEL and not entry.complete:
            where = (f"Running after the model analysis: {done} of {total} done; saved with it."
                     if done else "The forensic analyses run after the model has answered; "
                                  "saved with its analysis.")
        elif entry.analysis_id:  # run with the model now, or read back from its case
            # the case it was written to; while the write is still queued, the open case
            case = self.w.cases.owner(entry.analysis_id) or self.w.case
            where = (f"Run after the model; saved in case {case.meta.number} with its analysis."
                     if case is not None else "Run after the model; not saved: no case is open.")
        else:
            running = "" if entry.complete else f"Running without a model: {done} of {total} done. "
            where = running + (NOT_SAVED if self._analysis is None else
                               "Not saved in the case: the recorded model analysis did not "
                               "include them (re-analyse to record them).")
        return f"{where} {bytes_} {NEVER_CHANGES}"

    def _render(self) -> None:
        entry = self.shown_entry()
        panel, bar = self.w.forensics_panel, self.w.layer_bar
        if entry is None:
            self.overlay.clear()
            self._drawn = None
            if self._shown is not None and self._model_will_run(self._shown[0]):
                panel.clear("The forensic analyses run after the model's analysis of this image.")
            elif not self.names():
                panel.clear("Forensic analyses are off (Settings › Run forensic analyses).")
            bar.set_layers([])
            return
        pending = [] if entry.complete else [SHORT_NAMES.get(n, n) for n in entry.expected
                                             if n not in entry.results]  # (no import here)
        results = entry.ordered()
        panel.show_results(results, self._status(entry), pending)
        bar.set_layers([(r.name, f"{r.title}: {r.map_legend or 'regions outlined'}")
                        for r in results if _layer_map(r) is not None or r.regions])
        self._apply_layer()
        meta = entry.results.get("metadata")
        if meta is not None and id(meta) != self._metadata_of:
            self._metadata_of = id(meta)
            self.w.metadata_tree.set_metadata(meta.indicators, meta.statement)
        elif meta is None:
            self._metadata_of = None
            self.w.metadata_tree.clear("The metadata analysis has not run on this file yet."
                                       if not entry.complete else "No metadata analysis.")

    def _apply_layer(self) -> None:
        bar, entry = self.w.layer_bar, self.shown_entry()
        name = bar.shown()
        result = entry.results.get(name) if entry is not None and name else None
        if result is None:
            self.overlay.clear()
            self.w.strip.set_layer(None)
            self._drawn = None
            return
        drawn = (self._shown, name, id(result))
        if drawn == self._drawn:
            return
        self._drawn = drawn
        spatial = _layer_map(result)
        coloured = map_qimage(spatial) if spatial is not None else None
        pairs = result.indicators.get("pairs") if isinstance(result.indicators, dict) else None
        links = [(p["source"], p["target"]) for p in pairs or []
                 if isinstance(p, dict) and len(p.get("source") or []) == 4
                 and len(p.get("target") or []) == 4]
        self.overlay.show(name, coloured, self.w.view.image_rect(),
                          [(r.box, r.label) for r in result.regions], links)
        self.overlay.set_opacity(bar.opacity.value() / 100.0)
        legend = result.map_legend or ("dashed black-and-white outlines: the regions it points at"
                                       if coloured is None else "bright = high")
        bar.set_legend(legend, f"{result.title}: {legend}\n\nLimits: {result.limits}",
                       ramp=coloured is not None)
        if coloured is None or not self._closeup_boxes:
            self.w.strip.set_layer(None)
            return
        boxes, size = dict(self._closeup_boxes), self._size

        def crop(number: int):
            thumb = self.w.strip.thumb(number)
            box = boxes.get(number)
            if box is None or thumb is None:
                return None
            picture = thumb.pixmap()
            return crop_qimage(coloured, box, size, (picture.width(), picture.height()))

        self.w.strip.set_layer(crop, bar.opacity.value() / 100.0)

    def _layer_changed(self, name: str | None) -> None:
        self._apply_layer()
        if name is not None:  # its row and text in the Forensics tab follow
            self.w.forensics_panel.select(name)

    def _opacity_changed(self, opacity: float) -> None:
        self.overlay.set_opacity(opacity)
        self.w.strip.set_layer_opacity(opacity)

    def _row_selected(self, name: str) -> None:
        if name in self.w.layer_bar.layers():
            self.w.layer_bar.choose(name)

    # -- closing ----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self._cancel_jobs(except_key=None)
        self.runner.shutdown(wait=False, drop_pending=True)
