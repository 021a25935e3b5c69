"""Embedded ICC colour profiles, read with Pillow's ImageCms (LittleCMS)."""

from __future__ import annotations

import io
from typing import Any

from PIL import ImageCms

__all__ = ["icc_summary"]

DEVICE_CLASSES = {
    "mntr": "display", "scnr": "input", "prtr": "output", "spac": "colour space",
    "link": "device link", "abst": "abstract", "nmcl": "named colour",
}  # fmt: skip


def icc_summary(icc: bytes | None) -> dict[str, Any] | None:
    """What an embedded ICC profile is (its description, colour space, maker …), or None."""
    if not icc:
        return None
    found: dict[str, Any] = {"size_bytes": len(icc)}
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
    except Exception as exc:
        found["description"] = None
        found["error"] = f"the profile cannot be parsed ({type(exc).__name__})"
        return found
    created = profile.creation_date
    found.update(
        description=(profile.profile_description or "").strip() or None,
        colour_space=(profile.xcolor_space or "").strip() or None,
        connection_space=(profile.connection_space or "").strip() or None,
        device_class=DEVICE_CLASSES.get(profile.device_class, profile.device_class),
        version=f"{profile.version:g}",
        manufacturer=(profile.manufacturer or profile.header_manufacturer or "").strip() or None,
        model=(profile.model or profile.header_model or "").strip() or None,
        copyright=(profile.copyright or "").strip() or None,
        created=created.isoformat() if created else None,
    )
    return found
