"""The metadata analysis, on files built with real tools whose metadata is known exactly.

Plus the shared readers it uses with loading and provenance (format sniffing, EXIF value text).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms, ImageEnhance, PngImagePlugin, TiffImagePlugin

from inspector.core.exif import exif_text
from inspector.core.forensics import ForensicInput, run_forensics
from inspector.core.forensics import metadata as md
from inspector.core.formats import format_label, normalise_format, sniff_format
from inspector.core.imageio import load_image
from inspector.core.xmp import MAX_ENTRIES
from tests.conftest import shared_fixtures, skimage_photo

C2PA_DIR = shared_fixtures() / "c2pa"
SD_PARAMETERS = "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234"
XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
    'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" '
    'xmp:CreatorTool="Adobe Photoshop 25.0 (Windows)" photoshop:ColorMode="3">'
    "<dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>"
    "<dc:creator><rdf:Seq><rdf:li>A. Photographer</rdf:li></rdf:Seq></dc:creator>"
    '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour</rdf:li>'
    '<rdf:li xml:lang="de">Hafen</rdf:li></rdf:Alt></dc:title>'
    '<xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource"><stEvt:action>created</stEvt:action>'
    "<stEvt:softwareAgent>Adobe Photoshop 25.0</stEvt:softwareAgent></rdf:li>"
    '<rdf:li stEvt:action="saved" stEvt:when="2024-01-02T03:04:05Z"/></rdf:Seq></xmpMM:History>'
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
).encode()


# ----------------------------------------------------------------------------------- builders


def photo(name: str = "astronaut", size: tuple[int, int] = (320, 240)) -> Image.Image:
    return skimage_photo(name).resize(size, Image.Resampling.LANCZOS)


def jpeg(im: Image.Image, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def thumbnail_of(im: Image.Image, size: tuple[int, int] = (160, 120)) -> bytes:
    small = im.copy()
    small.thumbnail(size)
    return jpeg(small)


def camera_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    exif[0x0132] = "2019:05:04 12:00:00"
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = "2019:05:04 10:11:12"  # DateTimeOriginal
    sub[0x829A] = TiffImagePlugin.IFDRational(1, 250)  # ExposureTime
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[3] = "N", "W"
    gps[2] = (TiffImagePlugin.IFDRational(48, 1), TiffImagePlugin.IFDRational(51, 1),
              TiffImagePlugin.IFDRational(2400, 100))  # fmt: skip
    gps[4] = (TiffImagePlugin.IFDRational(2, 1), TiffImagePlugin.IFDRational(21, 1),
              TiffImagePlugin.IFDRational(0, 1))  # fmt: skip
    return exif


def with_thumbnail(exif: Image.Exif, thumb: bytes) -> bytes:
    """Pillow's EXIF bytes plus an IFD1 holding a JPEG thumbnail, linked from IFD0's next pointer.

    Pillow does not write IFD1; this appends one exactly as the TIFF/EXIF layout says (offsets
    count from the TIFF header).
    """
    tiff = bytearray(exif.tobytes()[6:])
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(e + "I", tiff[4:8])
    (count,) = struct.unpack(e + "H", tiff[ifd0 : ifd0 + 2])
    next_pointer = ifd0 + 2 + 12 * count
    tiff += b"\x00" * (len(tiff) % 2)
    ifd1 = len(tiff)
    data_at = ifd1 + 2 + 3 * 12 + 4
    block = struct.pack(e + "H", 3)
    block += struct.pack(e + "HHIHH", 0x0103, 3, 1, 6, 0)  # Compression: JPEG
    block += struct.pack(e + "HHII", 0x0201, 4, 1, data_at)  # JPEGInterchangeFormat
    block += struct.pack(e + "HHII", 0x0202, 4, 1, len(thumb))  # …Length
    block += struct.pack(e + "I", 0)
    tiff[next_pointer : next_pointer + 4] = struct.pack(e + "I", ifd1)
    return b"Exif\x00\x00" + bytes(tiff) + block + thumb


def iptc_app13(datasets: list[tuple[int, int, bytes]]) -> bytes:
    """A JPEG APP13 segment: Photoshop image resource 0x0404 holding IPTC-IIM datasets."""
    iim = b"".join(b"\x1c" + bytes([r, d]) + struct.pack(">H", len(v)) + v for r, d, v in datasets)
    iim += b"\x00" * (len(iim) % 2)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def insert_after_soi(data: bytes, segment: bytes) -> bytes:
    assert data.startswith(b"\xff\xd8")
    return data[:2] + segment + data[2:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def analyse_file(path: Path):
    evidence = ForensicInput.from_loaded(load_image(path))
    (result,) = run_forensics(evidence, only=["metadata"])
    assert result.error is None, result.error
    json.dumps(result.to_dict())  # the whole record is JSON-ready
    return result


def analyse_bytes(tmp_path: Path, data: bytes, name: str = "evidence.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    return analyse_file(path)


def xmp_value(result, prop: str):
    values = [e["value"] for e in result.indicators["xmp"] if e["property"] == prop]
    assert len(values) == 1, (prop, values)
    return values[0]


def pillow_tag_name(tag: int, ifd) -> str:
    table = ExifTags.GPSTAGS if ifd == ExifTags.IFD.GPSInfo else ExifTags.TAGS
    return table.get(tag) or f"Tag 0x{tag:04X}"


# --------------------------------------------------------------------------- C2PA fixtures


@pytest.mark.parametrize("name", ["A.jpg", "C.jpg", "CA.jpg", "E-sig-CA.jpg"])
def test_every_exif_tag_pillow_sees_is_listed(name):
    path = C2PA_DIR / name
    result = analyse_file(path)
    exif = Image.open(path).getexif()
    listed = result.indicators["exif"]
    ifds = {"IFD0": dict(exif)}
    for ifd, ifd_name in ((ExifTags.IFD.Exif, "Exif"), (ExifTags.IFD.GPSInfo, "GPS"),
                          (ExifTags.IFD.IFD1, "IFD1")):  # fmt: skip
        ifds[ifd_name] = {pillow_tag_name(t, ifd): v for t, v in exif.get_ifd(ifd).items()}
    ifds["IFD0"] = {pillow_tag_name(t, None): v for t, v in ifds["IFD0"].items()}
    for ifd_name, tags in ifds.items():
        assert set(listed.get(ifd_name, {})) == set(tags), ifd_name
        for tag_name, value in tags.items():
            if isinstance(value, str):
                assert listed[ifd_name][tag_name] == value.strip("\x00 ")


def test_lightroom_export_in_full():
    result = analyse_file(C2PA_DIR / "A.jpg")
    found = result.indicators
    assert found["exif"]["IFD0"]["Model"] == "Canon EOS REBEL T3"
    assert found["exif"]["Exif"]["ExposureTime"] == "1/60"  # rationals exactly as stored
    assert found["exif"]["Exif"]["ExifVersion"] == "0231"
    assert xmp_value(result, "xmp:CreatorTool") == "Adobe Lightroom 5.3 (Macintosh)"
    assert xmp_value(result, "xmpMM:History[3]/stEvt:softwareAgent").startswith("Adobe Lightroom")
    assert xmp_value(result, "crs:ToneCurvePV2012") == ["0, 0", "49, 41", "166, 177", "255, 255"]
    assert found["iptc"]["2:55 DateCreated"] == "20110730"
    assert found["icc"]["description"] == "sRGB IEC61966-2.1"
    assert found["icc"]["colour_space"] == "RGB" and found["icc"]["size_bytes"] == 3144
    # Lightroom wrote the 256×171 preview at export: it shows this very picture
    assert found["thumbnail"]["matches"] is True and found["thumbnail"]["size"] == [256, 171]
    assert found["c2pa_manifest"] is False and found["notes"] == []
    assert result.statement.startswith("EXIF (44 tags): Canon EOS REBEL T3, taken 2011:07:30")
    assert "incl. Adobe Photoshop" in result.statement and "no C2PA" in result.statement


def test_c2pa_manifest_is_mentioned_not_validated():
    result = analyse_file(C2PA_DIR / "C.jpg")
    assert result.indicators["c2pa_manifest"] is True
    assert result.indicators["exif"] == {} and result.indicators["thumbnail"] is None
    assert "no EXIF" in result.statement and "C2PA manifest present" in result.statement


# ------------------------------------------------------------------- a camera JPEG, built


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory) -> Path:
    im = photo()
    exif = with_thumbnail(camera_exif(), thumbnail_of(im))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path_factory.mktemp("camera") / "camera.jpg"
    im.save(path, "JPEG", quality=90, exif=exif, xmp=XMP, icc_profile=icc)
    return path


def test_camera_exif_gps_and_times(camera_jpeg):
    result = analyse_file(camera_jpeg)
    exif = result.indicators["exif"]
    assert exif["IFD0"]["Make"] == "Canon" and exif["IFD0"]["Model"] == "Canon EOS 5D"
    assert exif["Exif"]["DateTimeOriginal"] == "2019:05:04 10:11:12"
    assert exif["Exif"]["ExposureTime"] == "1/250"
    assert exif["GPS"]["GPSLatitude"] == "48, 51, 24"  # Pillow stored 2400/100 reduced
    assert exif["IFD1"]["JpegIFByteCount"].isdigit()
    assert result.indicators["gps"] == {"latitude": pytest.approx(48.8566667, abs=1e-6),
                                        "longitude": pytest.approx(-2.35, abs=1e-6)}  # fmt: skip
    times = result.indicators["file_times"]
    assert times["exists"] and times["size_matches_analysed_bytes"]
    assert times["modified"].startswith(
        md._utc(os.stat(camera_jpeg).st_mtime)[:19]
    )  # UTC ISO 8601
    assert result.statement.startswith(  # 5 tags in IFD0, 2 Exif, 4 GPS, 3 IFD1
        "EXIF (14 tags): Canon EOS 5D, taken 2019:05:04 10:11:12, modified 2019:05:04 12:00:00, "
        "GPS 48.85667, -2.35000"
    )


def test_every_xmp_namespace_and_nested_value(camera_jpeg):
    result = analyse_file(camera_jpeg)
    assert xmp_value(result, "xmp:CreatorTool") == "Adobe Photoshop 25.0 (Windows)"
    assert xmp_value(result, "photoshop:ColorMode") == "3"
    assert xmp_value(result, "dc:subject") == ["harbour", "boats"]  # rdf:Bag
    assert xmp_value(result, "dc:creator") == ["A. Photographer"]  # rdf:Seq
    assert xmp_value(result, "dc:title") == ["Harbour", "[de] Hafen"]  # rdf:Alt
    assert xmp_value(result, "xmpMM:History[1]/stEvt:action") == "created"
    assert xmp_value(result, "xmpMM:History[2]/stEvt:when") == "2024-01-02T03:04:05Z"
    spaces = {(e["prefix"], e["namespace"]) for e in result.indicators["xmp"]}
    assert spaces == {
        ("xmp", "http://ns.adobe.com/xap/1.0/"),
        ("photoshop", "http://ns.adobe.com/photoshop/1.0/"),
        ("dc", "http://purl.org/dc/elements/1.1/"),
        ("xmpMM", "http://ns.adobe.com/xap/1.0/mm/"),
    }
    assert len(result.indicators["xmp"]) == 9
    assert "XMP: 9 properties in 4 namespaces incl. Adobe Photoshop" in result.statement


def test_icc_profile_and_matching_thumbnail(camera_jpeg):
    result = analyse_file(camera_jpeg)
    icc = result.indicators["icc"]
    assert icc["description"] == "sRGB built-in" and icc["colour_space"] == "RGB"
    assert icc["device_class"] == "display" and icc["size_bytes"] > 100
    thumb = result.indicators["thumbnail"]
    assert thumb["matches"] is True and thumb["verdict"] == "matches"
    assert thumb["size"] == [160, 120] and thumb["correlation"] > 0.98
    assert result.regions == [] and result.map is not None and result.map.max() < 0.5
    assert "EXIF thumbnail matches" in result.statement


def make_with_thumbnail(tmp_path: Path, shown: Image.Image, thumb: bytes, **exif_kw) -> Path:
    path = tmp_path / "evidence.jpg"
    shown.save(path, "JPEG", quality=90, exif=with_thumbnail(camera_exif(**exif_kw), thumb))
    return path


def test_thumbnail_of_the_unedited_image_betrays_a_local_edit(tmp_path):
    original = photo()
    edited = original.copy()
    edited.paste(original.crop((10, 10, 90, 70)), (200, 140))  # copy-move over the lower right
    result = analyse_file(make_with_thumbnail(tmp_path, edited, thumbnail_of(original)))
    thumb = result.indicators["thumbnail"]
    assert thumb["matches"] is False
    assert thumb["verdict"].startswith("differs (1 area(s) differ)")
    assert "edited after the thumbnail was made" in result.statement
    (region,) = result.regions
    x1, y1, x2, y2 = region.box
    assert x1 < 240 < x2 and y1 < 170 < y2  # the pasted block's centre
    assert x1 >= 180 and y1 >= 120 and x2 <= 300 and y2 <= 230  # and not much more


def test_thumbnail_of_another_picture(tmp_path):
    result = analyse_file(make_with_thumbnail(tmp_path, photo(), thumbnail_of(photo("coffee"))))
    assert result.indicators["thumbnail"]["verdict"].startswith("differs (it shows a different")


def test_thumbnail_after_a_global_brightening(tmp_path):
    original = photo("coffee")
    brighter = ImageEnhance.Brightness(original).enhance(1.5)
    result = analyse_file(make_with_thumbnail(tmp_path, brighter, thumbnail_of(original)))
    thumb = result.indicators["thumbnail"]
    assert thumb["matches"] is False and "its tones or colours differ" in thumb["verdict"]
    assert all(gain < 0.85 for gain in thumb["tone_gain"])  # the thumbnail is the darker one


def test_thumbnail_is_compared_in_the_camera_orientation(tmp_path):
    stored = photo("chelsea", (320, 240))  # as the sensor saw it; orientation 6 = turn 90° right
    path = make_with_thumbnail(tmp_path, stored, thumbnail_of(stored), orientation=6)
    result = analyse_file(path)
    assert result.indicators["exif"]["IFD0"]["Orientation"] == "6"
    assert result.indicators["thumbnail"]["matches"] is True


def test_letterboxed_thumbnail_matches(tmp_path):
    wide = photo("rocket", (360, 240))  # 3:2 in a 4:3 preview with black bars, as Canon writes
    canvas = Image.new("RGB", (160, 120))
    small = wide.resize((160, 107), Image.Resampling.LANCZOS)
    canvas.paste(small, (0, 6))
    result = analyse_file(make_with_thumbnail(tmp_path, wide, jpeg(canvas)))
    thumb = result.indicators["thumbnail"]
    assert thumb["matches"] is True and thumb["compared_area"] == [0, 6, 160, 113]


def test_makernote_read_by_exifread(tmp_path):
    exif = camera_exif()
    # A Canon MakerNote: a bare IFD (big-endian like Pillow's EXIF) with ModelID and OwnerName.
    note = struct.pack(">H", 2) + struct.pack(">HHII", 0x0010, 4, 1, 0x80000213)
    note += struct.pack(">HHI", 0x0009, 2, 4) + b"Bob\x00" + struct.pack(">I", 0)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.MakerNote] = note
    path = tmp_path / "canon.jpg"
    photo().save(path, "JPEG", exif=exif.tobytes())
    result = analyse_file(path)
    assert result.indicators["exif"]["MakerNote"] == {"ModelID": "EOS 5D", "OwnerName": "Bob"}
    assert result.indicators["exif"]["Exif"]["MakerNote"].startswith("<30 bytes: ")


def test_iptc_datasets_named_and_decoded(tmp_path):
    app13 = iptc_app13([(1, 90, b"\x1b%G"), (2, 25, b"harbour"), (2, 25, b"caf\xc3\xa9"),
                        (2, 80, b"A. Photographer"), (2, 116, b"(c) 2024")])  # fmt: skip
    result = analyse_bytes(tmp_path, insert_after_soi(jpeg(photo()), app13))
    assert result.indicators["iptc"] == {
        "1:90 CodedCharacterSet": "UTF-8",
        "2:25 Keywords": ["harbour", "café"],
        "2:80 By-line": "A. Photographer",
        "2:116 CopyrightNotice": "(c) 2024",
    }
    assert "IPTC: 4 datasets" in result.statement


# -------------------------------------------------------------------------------------- PNG


def test_png_text_chunks_late_exif_and_generator_hint(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", SD_PARAMETERS)
    info.add_itxt("Description", "Hafen bei Nacht", lang="de", zip=True)
    info.add_text("Comment", "zipped " * 20, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)
    buf = io.BytesIO()
    photo().save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    exif = camera_exif().tobytes()[6:]
    iend = data.rindex(b"IEND") - 4  # an eXIf after the image data, where Pillow needs a decode
    data = data[:iend] + png_chunk(b"eXIf", exif) + data[iend:]
    result = analyse_bytes(tmp_path, data, "generated.png")
    texts = result.indicators["png_text"]
    assert texts["parameters"] == SD_PARAMETERS
    assert texts["Description"] == "Hafen bei Nacht" and texts["Comment"] == "zipped " * 20
    assert texts["XML:com.adobe.xmp"].startswith("<XMP packet")
    assert xmp_value(result, "dc:subject") == ["harbour", "boats"]  # from the compressed iTXt
    assert result.indicators["exif"]["IFD0"]["Model"] == "Canon EOS 5D"
    assert any("Stable Diffusion" in hint for hint in result.indicators["ai_hints"])
    assert "PNG text: parameters, Description, Comment and 1 more" in result.statement
    assert "AI-generator hint: PNG text chunk 'parameters'" in result.statement


def test_png_without_metadata(tmp_path):
    path = tmp_path / "plain.png"
    photo().save(path)
    result = analyse_file(path)
    found = result.indicators
    assert found["exif"] == {} and found["xmp"] == [] and found["png_text"] == {}
    assert found["icc"] is None and found["thumbnail"] is None and found["ai_hints"] == []
    assert result.statement == "no EXIF; no XMP; no C2PA."


# -------------------------------------------------------------------------- hostile files


def test_exif_that_is_not_tiff_is_a_note(tmp_path):
    result = analyse_bytes(tmp_path, insert_after_soi(jpeg(photo()), _app1(b"garbage" * 20)))
    assert result.indicators["exif"] == {}
    assert any("EXIF block of 140 bytes" in n for n in result.indicators["notes"])
    assert "1 note(s) on unreadable parts" in result.statement


def _app1(payload: bytes) -> bytes:
    body = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def test_truncated_exif_still_gives_a_result(tmp_path):
    whole = camera_exif().tobytes()[6:]
    data = insert_after_soi(jpeg(photo()), _app1(whole[:60]))
    result = analyse_bytes(tmp_path, data)
    assert result.indicators["notes"]  # Pillow's complaint is kept, not raised
    assert result.indicators["icc"] is None and result.indicators["file_times"]["exists"]


def test_thumbnail_pointing_outside_the_exif(tmp_path):
    exif = bytearray(with_thumbnail(camera_exif(), thumbnail_of(photo())))
    cut = bytes(exif[:-2000])  # the thumbnail's bytes are gone, its IFD1 entry is not
    path = tmp_path / "cut.jpg"
    photo().save(path, "JPEG", exif=cut)
    thumb = analyse_file(path).indicators["thumbnail"]
    assert thumb["matches"] is None and "points outside the EXIF data" in thumb["verdict"]


def test_undecodable_thumbnail(tmp_path):
    path = make_with_thumbnail(tmp_path, photo(), b"\xff\xd8\xff\xdb" + b"\x00" * 300)
    thumb = analyse_file(path).indicators["thumbnail"]
    assert thumb["matches"] is None and "cannot be decoded" in thumb["verdict"]


def test_bad_icc_profile_and_malformed_xmp_leave_the_rest(tmp_path):
    path = tmp_path / "odd.jpg"
    photo().save(path, "JPEG", exif=camera_exif().tobytes(), icc_profile=b"not a profile" * 40,
                 xmp=b"<x:xmpmeta><rdf:RDF><unclosed></x:xmpmeta>")  # fmt: skip
    result = analyse_file(path)
    assert result.indicators["icc"]["size_bytes"] == 520 and "cannot be parsed" in (
        result.indicators["icc"]["error"]
    )
    assert result.indicators["xmp"] == []
    assert any("XMP packet" in n for n in result.indicators["notes"])
    assert result.indicators["exif"]["IFD0"]["Model"] == "Canon EOS 5D"


def test_xmp_entity_bomb_is_refused(tmp_path):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&c;</x:xmpmeta>'
    )
    path = tmp_path / "bomb.jpg"
    photo().save(path, "JPEG", xmp=bomb)
    result = analyse_file(path)
    assert result.indicators["xmp"] == []
    assert any("EntitiesForbidden" in n for n in result.indicators["notes"])


def test_huge_xmp_is_listed_up_to_the_limit(tmp_path):
    items = "".join(f"<rdf:li>k{i}</rdf:li>" for i in range(50))
    props = "".join(
        f"<dc:p{i}><rdf:Seq><rdf:li rdf:parseType='Resource'><dc:v>{i}</dc:v></rdf:li>"
        f"</rdf:Seq></dc:p{i}>"
        for i in range(10_050)
    )
    packet = XMP.replace(b"</rdf:Description>", f"<dc:big><rdf:Bag>{items}</rdf:Bag></dc:big>"
                         f"{props}</rdf:Description>".encode())  # fmt: skip
    # Too long for a JPEG APP1 segment (Pillow refuses): it rides after the image data, where
    # the scan of the raw bytes finds it.
    result = analyse_bytes(tmp_path, jpeg(photo()) + packet)
    assert len(result.indicators["xmp"]) == MAX_ENTRIES
    assert any("were not listed" in n for n in result.indicators["notes"])


def test_file_gone_after_loading(tmp_path):
    path = tmp_path / "gone.jpg"
    photo().save(path)
    evidence = ForensicInput.from_loaded(load_image(path))
    path.unlink()
    result = md.analyze(evidence)
    assert result.indicators["file_times"] == {
        "exists": False, "note": "the file no longer exists at its path"
    }


@pytest.fixture(scope="module")
def rich_jpeg(camera_jpeg) -> tuple[bytes, Image.Image]:
    data = insert_after_soi(camera_jpeg.read_bytes(), iptc_app13([(2, 25, b"harbour")]))
    return data, load_image(camera_jpeg).image


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(0, 7000), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.integers(2, 9000)),
)
def test_damaged_headers_never_crash(rich_jpeg, edits, cut):
    data, image = rich_jpeg
    damaged = bytearray(data)
    for at, value in edits:
        damaged[at] = value
    blob = bytes(damaged[:cut] if cut else damaged)
    evidence = ForensicInput(Path("/nonexistent/x.jpg"), blob, image, "JPEG", "0" * 64)
    result = md.analyze(evidence)
    json.dumps(result.to_dict())
    assert result.statement.endswith(".")


def test_speed_on_twelve_megapixels(tmp_path):
    big = Image.open("/tmp/12mp.jpg") if Path("/tmp/12mp.jpg").exists() else None
    if big is None:
        pytest.skip("benchmark image /tmp/12mp.jpg not present")
    path = tmp_path / "big.jpg"
    rgb = big.convert("RGB")
    rgb.save(path, quality=90, exif=with_thumbnail(camera_exif(), thumbnail_of(rgb)), xmp=XMP)
    evidence = ForensicInput.from_loaded(load_image(path))
    md.analyze(evidence)  # imports
    result = md.analyze(evidence)
    assert result.indicators["thumbnail"]["matches"] is True
    seconds = min(run_forensics(evidence, only=["metadata"])[0].seconds for _ in range(3))
    assert seconds < 0.15  # budget 0.05 s; slack for a shared machine


# ------------------------------------------------------------- shared readers (issue 13)


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF89a", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00+", "TIFF"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
        (b"\x00\x00\x00\x1cftypavif", "AVIF"),
        (b"\x00\x00\x00\x1cftypheic", "HEIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "AVIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "HEIF"),
        (b"\xff\x0a", "JXL"),
        (b"BM", "BMP"),
        (b"P6\n", "PPM"),
        (b"hello", None),
    ],
)
def test_one_format_sniffer(head, name):
    assert sniff_format(head + b"\x00" * 32) == name


def test_format_names_agree_with_pillow(tmp_path):
    for fmt, suffix in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif"),
                        ("GIF", "gif"), ("BMP", "bmp")):  # fmt: skip
        path = tmp_path / f"x.{suffix}"
        photo(size=(32, 24)).save(path, fmt)
        loaded = load_image(path)
        assert sniff_format(loaded.data) == loaded.format == normalise_format(f".{suffix}")
    assert normalise_format("image/heic") == normalise_format("HEIC") == "HEIF"
    assert format_label("WEBP") == "WebP" and format_label("JPEG2000") == "JPEG 2000"


def test_one_exif_text():
    rational = TiffImagePlugin.IFDRational
    assert exif_text(rational(1, 250)) == "1/250" and exif_text(rational(35, 1)) == "35"
    assert exif_text((rational(48, 1), rational(2400, 100))) == "48, 2400/100"
    assert exif_text(b"0231") == "0231" and exif_text(b"Canon\x00\x00") == "Canon"
    assert exif_text(b"\x02\x02\x00\x00\xff") == "<5 bytes: 02020000ff>"
    assert exif_text("Hi".encode("utf-16-le") + b"\x00\x00", 0x9C9C) == "Hi"  # XPComment
    assert exif_text(tuple("Hi".encode("utf-16-le")), 0x9C9C) == "Hi"
    user = b"UNICODE\x00" + "two\nlines".encode("utf-16-be")
    assert exif_text(user, 0x9286) == "two\nlines"  # UserComment, line break kept …
    assert exif_text(user, 0x9286, multiline=False) == "two lines"  # … or not, for a summary
    assert exif_text("x" * 30, limit=10) == "xxxxxxxxxx […; 30 characters in all]"
    assert exif_text(None) == "" and exif_text("bell\x07") == "bell?"
