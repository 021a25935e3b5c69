"""Provenance signals, read back from files built with real tools (Pillow, c2pa-python)."""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from pathlib import Path

import c2pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from inspector.core.imageio import load_image
from inspector.core.pipeline import evidence_of
from inspector.core.provenance import (
    PROVENANCE_NOTE,
    C2paInfo,
    Provenance,
    read_provenance,
)
from inspector.core.results import Analysis, Evidence, ModelProvenance, QueryRecord
from tests.conftest import shared_fixtures

C2PA_DIR = shared_fixtures() / "c2pa"  # in the repository: the suite needs nothing beside it
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SD_PARAMETERS = (
    "a lighthouse at dusk, oil painting\n"
    "Negative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly"
)
COMFY_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
}
COMFY_WORKFLOW = {"last_node_id": 9, "nodes": [{"id": 4, "type": "CheckpointLoaderSimple"}]}

def picture(size=(64, 48)) -> Image.Image:
    im = Image.new("RGB", size)
    im.putdata(
        [(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    return im


def jpeg_bytes(im: Image.Image | None = None, **kwargs) -> bytes:
    buf = io.BytesIO()
    (im or picture()).save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def xmp_packet(body: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'{body}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def no_signals(p: Provenance) -> None:
    assert p.c2pa.status == "absent"
    assert p.ai_signals == []
    assert p.generator_text == {}
    assert p.digital_source_type is None
    assert p.c2pa.ai_actions == [] and p.c2pa.validation_errors == []


def signer() -> c2pa.Signer:
    """The test signing certificate shipped with the fixtures (see their README)."""
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256,
        (C2PA_DIR / "es256_certs.pem").read_bytes(),
        (C2PA_DIR / "es256_private.key").read_bytes(),
        None,
    )
    return c2pa.Signer.from_info(info)


def manifest(source_type: str) -> dict:
    return {
        "claim_generator_info": [{"name": "LTE Inspector tests", "version": "0.1"}],
        "title": "generated.jpg",
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + source_type,
                            "softwareAgent": {"name": "Test Diffusion", "version": "2.1"},
                        }
                    ]
                },
            }
        ],
    }


def sign_jpeg(source: bytes, source_type: str = "trainedAlgorithmicMedia") -> bytes:
    out = io.BytesIO()
    with c2pa.Builder(manifest(source_type)) as builder:
        builder.sign(signer(), "image/jpeg", io.BytesIO(source), out)
    return out.getvalue()


def flip_scan_byte(jpeg: bytes) -> bytes:
    """Change one byte of the compressed picture data (after the last SOS marker)."""
    sos = jpeg.rfind(b"\xff\xda")
    i = sos + (len(jpeg) - sos) // 2
    while jpeg[i] in (0x00, 0xFE, 0xFF) or jpeg[i - 1] == 0xFF:
        i += 1
    damaged = bytearray(jpeg)
    damaged[i] ^= 0x01
    return bytes(damaged)


@pytest.fixture(scope="module")
def signed_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("c2pa") / "generated.jpg"
    path.write_bytes(sign_jpeg(jpeg_bytes()))
    return path


# ------------------------------------------------------------------------------ C2PA: own


def test_self_signed_manifest_reads_back_valid_with_ai_action(signed_jpeg):
    p = read_provenance(signed_jpeg.read_bytes(), "JPEG", signed_jpeg)
    info = p.c2pa
    assert info.status == "valid"
    assert info.validation_state in ("Valid", "Trusted")
    assert info.validation_errors == []
    assert "LTE Inspector tests" in info.claim_generator
    assert info.signer and "C2PA" in info.signer
    assert info.actions == ["c2pa.created"]
    assert len(info.ai_actions) == 1
    assert "trainedAlgorithmicMedia" in info.ai_actions[0]
    assert "Test Diffusion" in info.ai_actions[0]
    assert (p.digital_source_type, p.digital_source_type_from) == (
        "trainedAlgorithmicMedia",
        "c2pa",
    )
    assert p.ai_signals == [
        "C2PA manifest says the image was created by a trained algorithm "
        "(trainedAlgorithmicMedia; action c2pa.created; software agent 'Test Diffusion 2.1')"
    ]
    # The test certificate is on no trust list: said plainly, but not a validation error.
    assert any("trust list" in n for n in p.notes)


def test_one_flipped_pixel_byte_makes_the_manifest_invalid_not_absent(signed_jpeg):
    damaged = flip_scan_byte(signed_jpeg.read_bytes())
    Image.open(io.BytesIO(damaged)).load()  # still a decodable picture
    p = read_provenance(damaged, "JPEG")
    assert p.c2pa.status == "invalid"
    assert any("dataHash.mismatch" in e for e in p.c2pa.validation_errors)
    # What the manifest claims is still shown, flagged as unreliable.
    assert p.c2pa.ai_actions
    assert p.ai_signals and "fails validation" in p.ai_signals[0]


def test_camera_capture_manifest_is_not_an_ai_signal():
    p = read_provenance(sign_jpeg(jpeg_bytes(), "digitalCapture"), "JPEG")
    assert p.c2pa.status == "valid"
    assert p.digital_source_type == "digitalCapture"
    assert p.c2pa.ai_actions == [] and p.ai_signals == []


def test_sidecar_manifest_next_to_the_file(tmp_path):
    source = jpeg_bytes()
    with c2pa.Builder(manifest("trainedAlgorithmicMedia")) as builder:
        builder.set_no_embed()
        manifest_bytes = builder.sign(signer(), "image/jpeg", io.BytesIO(source), io.BytesIO())
    path = tmp_path / "photo.jpg"
    path.write_bytes(source)
    assert read_provenance(source, "JPEG").c2pa.status == "absent"
    (tmp_path / "photo.c2pa").write_bytes(manifest_bytes)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    p = read_provenance(path.read_bytes(), "JPEG", path)
    assert p.c2pa.status == "valid" and p.c2pa.ai_actions
    assert any("sidecar" in n for n in p.notes)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


# ------------------------------------------------------------------------- C2PA: shared


def test_shared_signed_fixture_c():
    p = read_provenance((C2PA_DIR / "C.jpg").read_bytes(), "JPEG")
    assert p.c2pa.status == "valid"
    assert p.c2pa.claim_generator.startswith("make_test_images")
    assert p.c2pa.signer == "C2PA Test Signing Cert (C2PA Signer)"
    assert p.c2pa.signed_at.startswith("2023-09-29")
    assert p.c2pa.actions == ["c2pa.created"]
    assert p.digital_source_type == "algorithmicMedia"  # the fixture's own declaration
    assert len(p.ai_signals) == 1 and "algorithmicMedia" in p.ai_signals[0]


def test_shared_fixture_with_ingredient_ca():
    p = read_provenance((C2PA_DIR / "CA.jpg").read_bytes(), "JPEG")
    assert p.c2pa.status == "valid"
    assert p.c2pa.ingredients == 1
    assert p.c2pa.actions == ["c2pa.opened", "c2pa.color_adjustments"]
    assert p.ai_signals == []


def test_shared_bad_signature_is_invalid_not_absent():
    p = read_provenance((C2PA_DIR / "E-sig-CA.jpg").read_bytes(), "JPEG")
    assert p.c2pa.status == "invalid"
    assert p.c2pa.validation_state == "Invalid"
    assert any("claimSignature.mismatch" in e for e in p.c2pa.validation_errors)
    assert p.c2pa.claim_generator  # what the manifest says is still reported


def test_shared_camera_photo_without_manifest():
    p = read_provenance((C2PA_DIR / "A.jpg").read_bytes(), "JPEG", C2PA_DIR / "A.jpg")
    no_signals(p)
    assert p.software.startswith("Adobe Lightroom")
    assert p.notes == []


# ------------------------------------------------------------------------ PNG generators


def test_png_generator_text_chunks(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", SD_PARAMETERS)  # tEXt, as AUTOMATIC1111 writes it
    info.add_text("prompt", json.dumps(COMFY_PROMPT), zip=True)  # zTXt
    info.add_itxt("workflow", json.dumps(COMFY_WORKFLOW), zip=True)  # compressed iTXt
    info.add_text("Title", "holiday snap")  # not a generator key: ignored
    path = tmp_path / "sd.png"
    picture().save(path, pnginfo=info)

    p = read_provenance(path.read_bytes(), "PNG", path)
    assert p.generator_text == {
        "parameters": SD_PARAMETERS,
        "prompt": json.dumps(COMFY_PROMPT),
        "workflow": json.dumps(COMFY_WORKFLOW),
    }
    signals = p.ai_signals
    assert signals[0] == (
        "PNG text chunk 'parameters' written by a Stable Diffusion-style generator "
        "(model 'v1-5-pruned-emaonly')"
    )
    assert "'prompt' holds a ComfyUI node graph" in signals[1]
    assert "sd_xl_base_1.0" in signals[1]
    assert "'workflow' holds a ComfyUI node graph" in signals[2]
    assert p.c2pa.status == "absent"


def test_generator_named_in_software_chunk_and_long_text_is_clipped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "NovelAI")
    info.add_text("Description", "x" * 10_000)
    info.add_text("parameters", "Steps: 30, Seed: 1, " + "y" * 10_000)
    buf = io.BytesIO()
    picture().save(buf, "PNG", pnginfo=info)
    p = read_provenance(buf.getvalue())  # format sniffed from the bytes
    assert p.generator_text["Software"] == "NovelAI"
    assert "Description" not in p.generator_text
    assert len(p.generator_text["parameters"]) < 2100
    assert "characters in all" in p.generator_text["parameters"]
    assert "PNG text chunk 'Software' names an image generator ('NovelAI')" in p.ai_signals


def test_png_text_after_the_image_data_is_found():
    buf = io.BytesIO()
    picture().save(buf, "PNG")
    data = buf.getvalue()
    body = b"parameters\x00" + SD_PARAMETERS.encode()
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body
    chunk += zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    iend = data.rfind(b"IEND") - 4
    p = read_provenance(data[:iend] + chunk + data[iend:], "PNG")
    assert p.generator_text == {"parameters": SD_PARAMETERS}


# ------------------------------------------------------------------------------ XMP / EXIF


def test_jpeg_xmp_digital_source_type():
    xmp = xmp_packet(
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f"<Iptc4xmpExt:DigitalSourceType>{IPTC}trainedAlgorithmicMedia"
        "</Iptc4xmpExt:DigitalSourceType>"
        "<xmp:CreatorTool>Some Editor 3.1</xmp:CreatorTool>"
        "</rdf:Description>"
    )
    data = jpeg_bytes(xmp=xmp)
    assert Image.open(io.BytesIO(data)).info.get("xmp")  # Pillow really wrote APP1 XMP
    p = read_provenance(data, "JPEG")
    assert (p.digital_source_type, p.digital_source_type_from) == (
        "trainedAlgorithmicMedia",
        "xmp",
    )
    assert p.software == "Some Editor 3.1"
    assert p.generator_text == {}
    assert p.ai_signals == [
        "XMP metadata (IPTC DigitalSourceType) says the image was created by a trained "
        "algorithm (trainedAlgorithmicMedia)"
    ]
    assert p.c2pa.status == "absent"


def test_png_compressed_xmp_attribute_form():
    xmp = xmp_packet(
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}compositeWithTrainedAlgorithmicMedia"/>'
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)  # invisible to a raw scan
    buf = io.BytesIO()
    picture().save(buf, "PNG", pnginfo=info)
    p = read_provenance(buf.getvalue(), "PNG")
    assert p.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert len(p.ai_signals) == 1 and "compositeWithTrainedAlgorithmicMedia" in p.ai_signals[0]


def test_xmp_camera_capture_is_recorded_but_no_signal():
    xmp = xmp_packet(
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{IPTC}digitalCapture"/>'
        "</rdf:Description>"
    )
    p = read_provenance(jpeg_bytes(xmp=xmp), "JPEG")
    assert p.digital_source_type == "digitalCapture"
    assert p.ai_signals == []


def test_sd_parameters_in_jpeg_exif_user_comment():
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion WebUI"  # hypothetical, but names a generator
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + SD_PARAMETERS.encode("utf-16-be")
    p = read_provenance(jpeg_bytes(exif=exif.tobytes()), "JPEG")
    assert p.generator_text["EXIF UserComment"] == SD_PARAMETERS
    assert p.software == "Stable Diffusion WebUI"
    assert "EXIF Software" in p.generator_text
    assert any(
        s.startswith("EXIF UserComment written by a Stable Diffusion-style generator")
        for s in p.ai_signals
    )


# ------------------------------------------------------------------------------- nothing


def test_plain_photo_has_no_signals(photo_path):
    p = read_provenance(photo_path.read_bytes(), "JPEG", photo_path)
    no_signals(p)
    assert p.software is None and p.notes == []


def test_camera_exif_is_not_a_generator():
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "Canon EOS R5", "Firmware 1.8.1"
    p = read_provenance(jpeg_bytes(exif=exif.tobytes(), comment="Holiday, Crete"), "JPEG")
    no_signals(p)
    assert p.software == "Firmware 1.8.1"


def test_bmp_cannot_carry_a_manifest():
    buf = io.BytesIO()
    picture().save(buf, "BMP")
    p = read_provenance(buf.getvalue(), "BMP")
    assert p.c2pa.status == "absent" and p.ai_signals == []
    assert any("BMP" in n for n in p.notes)


@pytest.mark.parametrize("fmt", [None, "JPEG", "PNG", "WEBP", "image/png", "weird"])
@pytest.mark.parametrize(
    "data",
    [b"", b"garbage" * 50, b"\xff\xd8\xff\xe0" + b"\x00" * 40, b"\x89PNG\r\n\x1a\n\xff\xff"],
)
def test_garbage_never_raises(data, fmt):
    p = read_provenance(data, fmt)
    assert p.c2pa.status in ("absent", "unreadable")
    assert p.ai_signals == []
    json.dumps(p.to_dict())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]),
    st.binary(max_size=300),
)
def test_random_bytes_never_raise(prefix, tail):
    p = read_provenance(prefix + tail)
    assert p.c2pa.status in ("absent", "unreadable", "invalid")


def test_truncated_signed_file_does_not_raise(signed_jpeg):
    data = signed_jpeg.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        p = read_provenance(data[:cut], "JPEG")
        assert p.c2pa.status in ("invalid", "unreadable")  # a manifest is there, not "absent"


# ------------------------------------------------------------------- records and pipeline


def test_round_trip_through_json(signed_jpeg):
    p = read_provenance(signed_jpeg.read_bytes(), "JPEG")
    again = Provenance.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    assert again.ai_signals == p.ai_signals
    assert Provenance.from_dict(None).c2pa.status == "absent"
    junk = Provenance.from_dict({"c2pa": {"status": "bogus", "ingredients": "x"}, "notes": 3})
    assert junk.c2pa == C2paInfo(status="unreadable")
    assert PROVENANCE_NOTE.endswith(".") and "verdict" in PROVENANCE_NOTE


def test_evidence_of_loaded_image_carries_provenance(signed_jpeg):
    before = signed_jpeg.read_bytes()
    loaded = load_image(signed_jpeg)
    assert loaded.data == before
    assert "data=" not in repr(loaded)  # megabytes of bytes stay out of logs
    evidence = evidence_of(loaded)
    assert evidence.provenance["c2pa"]["status"] == "valid"
    assert evidence.provenance["digital_source_type"] == "trainedAlgorithmicMedia"
    assert Provenance.from_dict(evidence.provenance).ai_signals
    assert evidence.sha256 == hashlib.sha256(before).hexdigest()
    assert signed_jpeg.read_bytes() == before  # the evidence file is untouched
    restored = Evidence(**json.loads(json.dumps(evidence.__dict__)))
    assert restored.provenance == evidence.provenance


def test_results_written_before_provenance_still_load():
    analysis = Analysis(
        evidence=Evidence("a.jpg", 10, "ab" * 32, 4, 3, "JPEG"),
        model=ModelProvenance("demo", "transformers"),
        query1=QueryRecord("", None, None, None),
    )
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["evidence"]["provenance"] is None
    del data["evidence"]["provenance"]
    data["evidence"]["c2pa"] = None  # the old, never-filled slot
    assert Analysis.from_dict(data).evidence.provenance is None
