"""Model presets and the memory check (figures checked by hand in the comments)."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inspector.core.backends.base import BackendError, GenerationSettings
from inspector.core.backends.open import BackendChoice, ServedModelUnknown, open_backend
from inspector.core.backends.remote import RemoteSpec
from inspector.core.backends.spec import LocalModelSpec, to_local_spec
from inspector.core.demo_model import demo_model_dir, demo_model_path
from inspector.core.memory import (
    GIB,
    AvailableMemory,
    Workload,
    available_memory,
    check_fits,
    estimate_for_preset,
    estimate_memory,
)
from inspector.core.presets import (
    DEFAULT_PRESET,
    PRESETS,
    Architecture,
    PresetError,
    get_preset,
)

# 1280 tokens of 28x28 px (Qwen2.5-VL's max_pixels), four 512x512 close-ups, 1024 new tokens.
W = Workload(image_pixels=1280 * 28 * 28, closeups=4, closeup_pixels=512 * 512,
             max_new_tokens=1024)


def _est(name, **kw):
    return estimate_memory(PRESETS[name], W.image_pixels, W.closeups, W.closeup_pixels,
                           W.max_new_tokens, **kw)


def test_presets_cover_the_issue():
    for name in ("qwen2.5-vl-7b-4bit", "qwen2.5-vl-7b-bf16", "qwen2.5-vl-32b-bf16",
                 "qwen2.5-vl-3b-bf16", "qwen3-vl-8b-4bit", "qwen3-vl-8b-bf16",
                 "qwen3-vl-32b-bf16", "local-folder", "lora-adapter", "remote-server", "demo"):
        assert name in PRESETS
    assert DEFAULT_PRESET == "qwen2.5-vl-7b-4bit"
    p = get_preset("Qwen2.5-VL-7B-4bit")
    assert (p.model_id, p.quantization, p.model_type) == \
        ("Qwen/Qwen2.5-VL-7B-Instruct", "4bit", "qwen2_5_vl")
    assert (p.text_layers, p.text_hidden, p.text_kv_heads, p.head_dim) == (28, 3584, 4, 128)
    assert PRESETS["qwen3-vl-8b-bf16"].arch.pixels_per_token == 32 * 32
    assert PRESETS["qwen2.5-vl-32b-bf16"].device_map_auto
    with pytest.raises(PresetError, match="qwen2.5-vl-7b-4bit"):
        get_preset("llava")


def test_to_local_spec():
    spec = to_local_spec("qwen2.5-vl-7b-4bit", device="cpu")
    assert (spec.source, spec.quantization, spec.dtype, spec.device) == \
        ("Qwen/Qwen2.5-VL-7B-Instruct", "4bit", "bfloat16", "cpu")
    assert (spec.min_pixels, spec.max_pixels) == (256 * 784, 1280 * 784)
    assert to_local_spec("local-folder", source="/m").source == "/m"
    a = to_local_spec("lora-adapter", adapter="/ad")
    assert (a.source, a.adapter) == ("/ad", None)  # the backend reads the base from the adapter
    b = to_local_spec("lora-adapter", adapter="/ad", source="/base")
    assert (b.source, b.adapter) == ("/base", "/ad")
    for bad in (lambda: to_local_spec("remote-server"), lambda: to_local_spec("local-folder"),
                lambda: to_local_spec("lora-adapter"), lambda: to_local_spec("demo", colour=1)):
        with pytest.raises(PresetError):
            bad()
    with pytest.raises(BackendError, match="device"):
        to_local_spec("local-folder", source="/m", device="tpu")


def _checkpoint(folder, demo: bool):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    if demo:
        (folder / "DEMO").write_text("demo")
    return folder


def test_demo_model_is_found_in_the_checkout_and_in_the_frozen_app(tmp_path, monkeypatch):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert demo_model_path().parts[-2:] == ("resources", "demo-model")
    assert (demo_model_path().parent.parent / "inspector" / "core").is_dir()  # the checkout
    assert demo_model_dir(tmp_path / "none") is None  # no checkpoint there
    bundle = tmp_path / "bundle"
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)  # PyInstaller sets it
    assert demo_model_path() == bundle / "resources" / "demo-model"
    assert demo_model_dir() is None
    found = _checkpoint(bundle / "resources" / "demo-model", demo=True)
    assert demo_model_dir() == found


def test_backend_choices(tmp_path):
    demo = BackendChoice.of_demo("cpu", _checkpoint(tmp_path / "demo", demo=True))
    assert demo.kind == "demo" and demo.is_demo
    assert (demo.local.source, demo.local.device) == (str(tmp_path / "demo"), "cpu")
    assert BackendChoice.of_demo("cpu", tmp_path / "missing") is None
    # a folder marked DEMO is the demo however it was given; a hub id is not
    assert BackendChoice.of_local(LocalModelSpec(source=str(tmp_path / "demo"))).is_demo
    local = BackendChoice.of_local(LocalModelSpec(source="Qwen/Qwen2.5-VL-7B-Instruct",
                                                  adapter="/ad"))
    assert not local.is_demo and local.describe() == "Qwen/Qwen2.5-VL-7B-Instruct + adapter /ad"
    remote = BackendChoice.of_remote(RemoteSpec("http://gpu-box:8000/v1/", model="qwen"))
    assert not remote.is_demo and remote.describe() == "qwen at http://gpu-box:8000/v1"
    with pytest.raises(ValueError):
        BackendChoice("remote", local=LocalModelSpec(source="/m"))
    with pytest.raises(ValueError):
        BackendChoice("cloud", local=LocalModelSpec(source="/m"))


def test_open_backend_loads_with_the_settings_given(tiny_model_dir):
    backend = open_backend(
        BackendChoice.of_local(LocalModelSpec(source=str(tiny_model_dir), device="cpu")),
        GenerationSettings.with_token_limit(7),
    )
    assert (backend.settings.max_new_tokens_locate, backend.settings.max_new_tokens_examine) == (
        7, 7)
    assert backend.provenance.backend == "transformers" and not backend.provenance.is_demo


def test_open_backend_without_a_model_name_asks_the_server(tmp_path):
    server = _models_server(["qwen-lte"])  # it answers, but not at this path (HTTP 404)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/not-the-api"
        with pytest.raises(ServedModelUnknown, match="could not read") as info:
            open_backend(BackendChoice.of_remote(RemoteSpec(url, model="")))
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.served is None
    # (a server that does not answer at all: tests/test_server_down.py)
    with pytest.raises(BackendError, match="http://host:port"):
        open_backend(BackendChoice.of_remote(RemoteSpec("gpu-box", model="m")))


def test_7b_bf16_by_hand():
    e = _est("qwen2.5-vl-7b-bf16")
    # Language model: (8.29 - 0.67) B x 2 bytes = 15.24e9 B = 14.19 GiB; vision 0.67 B x 2.
    assert e.weights_gb == pytest.approx(15.24e9 / GIB, rel=1e-6)
    assert e.vision_gb == pytest.approx(1.34e9 / GIB, rel=1e-6)
    # Tokens: image 1280 + close-ups 4 x ceil(262144 / 784 = 334.4) = 1340 + text 600
    # + answers 2 x 1024 = 5268. KV: 2 x 28 layers x 4 heads x 128 x 2 B = 57344 B per token.
    assert e.tokens == 5268
    assert e.kv_cache_gb == pytest.approx(5268 * 57344 / GIB, rel=1e-9)  # 0.281 GiB
    # Activations: 4244 prompt tokens x (3 x 18944 + 6 x 3584) x 2 B = 664.9 MB, vision
    # 1048576 / 196 patches x (3 x 3420 + 6 x 1280) x 2 B = 192.0 MB, + 0.5 GiB runtime.
    act = (4244 * 78336 * 2 + 1048576 / 196 * 17940 * 2) / GIB + 0.5
    assert e.activations_gb == pytest.approx(act, rel=1e-9)
    assert e.total_gb == pytest.approx(17.0, abs=0.05)
    assert "5268 tokens" in e.breakdown


def test_7b_4bit_and_32b_by_hand():
    e = _est("qwen2.5-vl-7b-4bit")
    # Embedding + untied head: 2 x 152064 x 3584 = 1.090e9 params stay bf16; the other
    # 7.62e9 - 1.090e9 = 6.530e9 at 0.56 B (nf4 + double-quant constants) = 3.657e9 B.
    embed = 2 * 152064 * 3584
    assert e.weights_gb == pytest.approx(((7.62e9 - embed) * 0.56 + embed * 2) / GIB, rel=1e-9)
    assert e.weights_gb == pytest.approx(5.44, abs=0.01)
    assert e.vision_gb == pytest.approx(1.25, abs=0.01)  # the vision tower is not quantized
    assert e.total_gb == pytest.approx(8.4, abs=0.05)
    big = _est("qwen2.5-vl-32b-bf16")
    # 32.82 B x 2 = 61.1 GiB; KV 2 x 64 x 8 x 128 x 2 = 262144 B/token x 5268 = 1.29 GiB.
    assert big.weights_gb == pytest.approx(61.13, abs=0.01)
    assert big.kv_cache_gb == pytest.approx(5268 * 262144 / GIB, rel=1e-9)
    assert big.total_gb == pytest.approx(65.3, abs=0.1)
    # Qwen3-VL: 32 px per token -> 1003520 / 1024 = 980 image tokens, 4 x 256 close-ups.
    q3 = _est("qwen3-vl-8b-bf16")
    assert q3.tokens == 980 + 1024 + 600 + 2048
    assert estimate_for_preset(PRESETS["qwen3-vl-8b-bf16"]).tokens == 1280 + 1024 + 600 + 2048
    # CPU: "auto" means float32, as in the backend.
    cpu = estimate_memory(PRESETS["qwen2.5-vl-3b-bf16"].arch, 0, 0, 0, 0, dtype="auto",
                          device="cpu")
    assert cpu.weights_gb == pytest.approx((3.75 - 0.67) * 4e9 / GIB, rel=1e-9)


def test_check_fits_and_suggestions():
    def gpu(*free):
        return AvailableMemory("cuda", free, tuple(24.0 for _ in free))

    e = _est("qwen2.5-vl-7b-bf16")
    assert check_fits(e, gpu(23.0)).fits
    v = check_fits(e, gpu(11.0))
    assert not v.fits and "17.0 GiB" in v.message and "11.0 GiB free on the GPU" in v.message
    assert "4bit" in v.suggestion or "8bit" in v.suggestion
    # 7B 4-bit with 8.5 GiB free (8.1 usable): weights fit, fewer close-ups and smaller images
    # would (2 regions, half the pixels, 512 new tokens: 7.85 GiB).
    v = check_fits(_est("qwen2.5-vl-7b-4bit"), gpu(8.5))
    assert not v.fits and "--max-regions 2" in v.suggestion
    # 32B on one 24 GB card: even 4-bit (~23.4 GiB) is over -> the biggest same-family preset.
    v = check_fits(_est("qwen2.5-vl-32b-bf16"), gpu(23.0))
    assert v.suggestion.startswith("use the smaller preset qwen2.5-vl-7b-bf16")
    # Nothing fits in 4 GiB -> the remote server.
    assert "remote-server" in check_fits(_est("qwen2.5-vl-32b-bf16"), gpu(4.0)).suggestion


def test_two_gpus_from_torch_cuda(monkeypatch):
    # Mock: this machine has no GPU, so torch.cuda reports two 40 GiB cards with 38 and 36
    # GiB free (what mem_get_info returns on a 2 x A100-40GB host).
    import torch

    free = {0: 38 * GIB, 1: 36 * GIB}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i=0: (free[i], 40 * GIB))
    avail = available_memory("auto")
    assert avail.kind == "cuda" and avail.free_gb == (38.0, 36.0) and avail.total_gb == (40, 40)
    v = check_fits(_est("qwen2.5-vl-32b-bf16"), avail)  # 65.3 <= 0.95 x 74
    assert v.fits and "2 GPUs (38.0 + 36.0)" in v.message
    free[1] = 20 * GIB  # someone else is using the second card: 58 x 0.95 = 55.1 < 65.3
    v = check_fits(_est("qwen2.5-vl-32b-bf16"), available_memory("auto"))
    assert not v.fits and v.suggestion.startswith("load it in 8bit (--quant 8bit)")


def test_cpu_memory_is_ram():
    avail = available_memory("cpu")
    assert avail.kind == "cpu" and len(avail.free_gb) == 1 and avail.free_gb[0] > 0


def test_architecture_from_folder_counts_parameters(tiny_model_dir):
    from safetensors.torch import load_file

    arch = Architecture.from_folder(tiny_model_dir)
    tensors = load_file(str(tiny_model_dir / "model.safetensors"))
    total = sum(t.numel() for t in tensors.values())
    visual = sum(t.numel() for n, t in tensors.items() if ".visual." in f".{n}")
    assert arch.params_billion == pytest.approx(total / 1e9)
    assert arch.vision_params_billion == pytest.approx(visual / 1e9) and visual > 0
    assert (arch.model_type, arch.text_layers, arch.text_hidden, arch.text_kv_heads,
            arch.head_dim, arch.patch_size) == ("qwen2_5_vl", 2, 128, 2, 32, 14)
    e = estimate_memory(arch, 36 * 784, 2, 16 * 784, 64, dtype="float32", device="cpu")
    assert e.tokens == 36 + 2 * 16 + 600 + 128
    assert e.kv_cache_gb == pytest.approx(e.tokens * 2 * 2 * 2 * 32 * 4 / GIB)


def _models_server(names: list[str]) -> ThreadingHTTPServer:
    """A local server whose /v1/models lists ``names`` (all a model-name probe reads)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"data": [{"id": n} for n in names]}).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("names", [["qwen-lte"], ["qwen-a", "qwen-b"]])
def test_the_server_model_is_the_only_one_served(names):
    server = _models_server(names)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        if len(names) == 1:
            backend = open_backend(BackendChoice.of_remote(RemoteSpec(url, model="")))
            assert backend.provenance.model_id == "qwen-lte"
            backend.close()
        else:
            with pytest.raises(ServedModelUnknown, match="several models .qwen-a, qwen-b") as err:
                open_backend(BackendChoice.of_remote(RemoteSpec(url, model="")))
            assert err.value.served == names
    finally:
        server.shutdown()
        server.server_close()


def test_only_a_large_model_on_a_cpu_is_said_to_take_minutes_per_image():
    from inspector.core.memory import AvailableMemory, MemoryEstimate, check_fits

    cpu = AvailableMemory("cpu", (22.0,), (24.0,))
    small, big = (MemoryEstimate(weights_gb=t * 0.8, vision_gb=0.0, kv_cache_gb=0.0,
                                 activations_gb=t * 0.2, total_gb=t, breakdown="", tokens=0)
                  for t in (1.1, 17.0))  # the demo checkpoint; a 7B model in bf16
    assert "minutes" not in check_fits(small, cpu).message
    assert "minutes per image" in check_fits(big, cpu).message


def test_a_4bit_model_on_a_cpu_is_said_to_be_for_testing_only(capsys):
    """bitsandbytes 4-bit fits a 7B model into RAM, but on a CPU it is a test path."""
    from inspector.cli import main
    from inspector.core.memory import AvailableMemory, check_fits, estimate_for_preset
    from inspector.core.presets import PRESETS

    preset = next(p for p in PRESETS.values() if p.quantization == "4bit" and p.arch is not None)
    estimate = estimate_for_preset(preset, device="cpu")
    cpu = AvailableMemory("cpu", (22.0,), (24.0,))
    verdict = check_fits(estimate, cpu)
    assert verdict.fits and "for testing only" in verdict.message

    assert main(["models", "--device", "cpu"]) == 0
    block = capsys.readouterr().out.split(f"\n{preset.name}")[1].split("\n\n")[0]
    assert "fits here" not in block  # never plainly "fits" on a CPU
    assert "for testing only" in block or "does NOT fit" in block  # (a machine with less RAM)
