"""Screenshots of the forensic layers in the real window, for the README.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_forensics_screenshots.py

A photograph (scikit-image's astronaut, NASA, public domain) is doctored the way a forger would:
the mission badge is cloned onto the suit (copy-move) and a block is pasted back from a copy saved
at JPEG quality 50 (a splice with another compression history); the EXIF says a Canon camera and
Photoshop. The window runs with no model at all, as on a machine without one: the forensic
analyses run alone. One screenshot per layer (``forensics-<name>.png``), each with that analysis
selected in the Forensics tab; the spectrum, which is not a picture of places, beside its finding
(``forensics-spectrum.png``); the metadata tree filtered for "Make"
(``forensics-metadata-tree.png``) and the loupe over the clone (``forensics-loupe.png``).

A second photograph (scikit-image's coffee, public domain) is a re-saved JPEG — saved at quality
60, then again at 90 — with a patch of never-compressed pixels pasted in before the second save:
its double-JPEG layer (``forensics-double_jpeg.png``) is bright where the picture was compressed
twice and dark over the patch, compressed once.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from window_driver import HERE, photo, scratch_folder, settle, show_window, wait_until

CLONE_SOURCE = (380, 560, 560, 740)  # the mission badge…
CLONE_TARGET = (820, 560)  # …again on the suit
SPLICE = (400, 80, 640, 320)  # the hair and face, from a copy saved at quality 50


def doctored_photo(path: Path) -> None:
    from PIL import Image

    image = photo("astronaut", (1200, 900))
    image.paste(image.crop(CLONE_SOURCE), CLONE_TARGET)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=50)
    low = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    image.paste(low.crop(SPLICE), SPLICE[:2])
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D Mark IV"
    exif[0x0131], exif[0x0132] = "Adobe Photoshop 25.0 (Windows)", "2024:03:14 10:22:05"
    image.save(path, quality=92, exif=exif.tobytes())


RESAVED_PATCH = (700, 250, 1020, 570)  # never-compressed pixels in a twice-compressed photo


def resaved_photo(path: Path) -> None:
    from PIL import Image

    image = photo("coffee", (1200, 900))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=60)
    first = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    first.paste(image.crop(RESAVED_PATCH), RESAVED_PATCH[:2])
    first.save(path, quality=90)


def main() -> int:
    with scratch_folder("lte-forensic-shots-") as tmp:
        evidence = tmp / "badge.jpg"
        doctored_photo(evidence)
        window = show_window(None, tmp / "case", examiner="J. Doe", animation=False)
        window.add_paths([evidence])
        wait_until(lambda: window.forensics.shown_entry() is not None
                   and window.forensics.shown_entry().complete)
        window.side_tabs.setCurrentWidget(window.forensics_panel)
        settle(0.4)
        written = []
        for name in [*window.layer_bar.layers(), "spectrum"]:
            if name not in window.layer_bar.layers():
                window.layer_bar.choose(None)  # the spectrum is drawn in the tab, not over it
            window.forensics_panel.select(name)  # its row, its text and its layer (if it has one)
            settle(0.4)
            out = HERE / f"forensics-{name}.png"
            window.grab().save(str(out))
            written.append(out.name)

        window.layer_bar.choose(None)
        window.side_tabs.setCurrentWidget(window.metadata_tree)
        window.metadata_tree.filter_edit.setText("Make")
        settle(0.4)
        window.grab().save(str(HERE / "forensics-metadata-tree.png"))
        written.append("forensics-metadata-tree.png")

        window.side_tabs.setCurrentWidget(window.forensics_panel)
        window.loupe_action.setChecked(True)
        x, y = CLONE_TARGET[0] + 40, CLONE_TARGET[1] + 150  # the cloned badge's edge
        window.loupe.follow(window.view.mapFromScene(x + 0.5, y + 0.5).toPointF())
        wait_until(window.loupe.is_full_resolution, 30)
        settle(0.4)
        window.grab().save(str(HERE / "forensics-loupe.png"))
        written.append("forensics-loupe.png")
        window.loupe_action.setChecked(False)

        resaved = tmp / "resaved.jpg"
        resaved_photo(resaved)
        window.add_paths([resaved])
        window.queue_view.setCurrentIndex(window.queue_model.index(1, 0))
        wait_until(lambda: window.forensics.shown_key() is not None
                   and window.forensics.shown_key()[0] == str(resaved)
                   and window.forensics.shown_entry() is not None
                   and window.forensics.shown_entry().complete)
        if "double_jpeg" not in window.layer_bar.layers():
            raise RuntimeError("the re-saved photo shows no double-JPEG layer")
        window.forensics_panel.select("double_jpeg")
        settle(0.4)
        window.grab().save(str(HERE / "forensics-double_jpeg.png"))
        written.append("forensics-double_jpeg.png")
        window.close()
        print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
