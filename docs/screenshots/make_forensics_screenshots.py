"""Screenshots of the forensic layers in the real window, for the README.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_forensics_screenshots.py

A photograph (scikit-image's astronaut, NASA, public domain) is doctored the way a forger would:
the mission badge is cloned onto the suit (copy-move) and a block is pasted back from a copy saved
at JPEG quality 50 (a splice with another compression history); the EXIF says a Canon camera and
Photoshop. The window runs with no model at all, as on a machine without one: the forensic
analyses run alone. One screenshot per layer (``forensics-<name>.png``), each with that analysis
selected in the Forensics tab, then the metadata tree filtered for "Make"
(``forensics-metadata-tree.png``) and the loupe over the clone (``forensics-loupe.png``).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

CLONE_SOURCE = (380, 560, 560, 740)  # the mission badge…
CLONE_TARGET = (820, 560)  # …again on the suit
SPLICE = (400, 80, 640, 320)  # the hair and face, from a copy saved at quality 50


def doctored_photo(path: Path) -> None:
    from PIL import Image, ImageOps

    from tests.conftest import skimage_photo

    photo = ImageOps.fit(skimage_photo("astronaut"), (1200, 900))
    photo.paste(photo.crop(CLONE_SOURCE), CLONE_TARGET)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=50)
    low = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    photo.paste(low.crop(SPLICE), SPLICE[:2])
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D Mark IV"
    exif[0x0131], exif[0x0132] = "Adobe Photoshop 25.0 (Windows)", "2024:03:14 10:22:05"
    photo.save(path, quality=92, exif=exif.tobytes())


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import AppSettings

    app = QApplication.instance() or QApplication([])

    def wait_until(done, seconds: float = 120) -> None:
        end = time.monotonic() + seconds
        while not done():
            if time.monotonic() > end:
                raise TimeoutError("the window did not reach the expected state")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.4) -> None:
        end = time.monotonic() + seconds
        wait_until(lambda: time.monotonic() > end)

    with tempfile.TemporaryDirectory(prefix="lte-forensic-shots-") as tmp:
        tmp = Path(tmp)
        os.environ["LTE_SETTINGS"] = str(tmp / "settings.toml")
        photo = tmp / "badge.jpg"
        doctored_photo(photo)
        window = MainWindow(AppSettings(examiner="J. Doe", animation=False), None,
                            case_folder=tmp / "case")
        window.resize(1400, 860)
        window.show()
        window.add_paths([photo])
        wait_until(lambda: window.forensics.shown_entry() is not None
                   and window.forensics.shown_entry().complete)
        window.side_tabs.setCurrentWidget(window.forensics_panel)
        settle()
        written = []
        for name in window.layer_bar.layers():
            window.forensics_panel.select(name)  # its row, its text and its layer
            settle()
            out = HERE / f"forensics-{name}.png"
            window.grab().save(str(out))
            written.append(out.name)

        window.layer_bar.choose(None)
        window.side_tabs.setCurrentWidget(window.metadata_tree)
        window.metadata_tree.filter_edit.setText("Make")
        settle()
        window.grab().save(str(HERE / "forensics-metadata-tree.png"))
        written.append("forensics-metadata-tree.png")

        window.side_tabs.setCurrentWidget(window.forensics_panel)
        window.loupe_action.setChecked(True)
        x, y = CLONE_TARGET[0] + 40, CLONE_TARGET[1] + 150  # the cloned badge's edge
        window.loupe.follow(window.view.mapFromScene(x + 0.5, y + 0.5).toPointF())
        wait_until(window.loupe.is_full_resolution, 30)
        settle()
        window.grab().save(str(HERE / "forensics-loupe.png"))
        written.append("forensics-loupe.png")
        window.close()
        print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
