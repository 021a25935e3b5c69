"""Images per minute through a server with N analyses in flight (N = 1, 2, 4).

    python benchmarks/remote_throughput.py [--server URL --model NAME --model-type T]
                                           [--images PATH...] [--count K] [--max-new-tokens M]
                                           [--out docs/remote_throughput.md]

Without --server it builds a tiny random Qwen2.5-VL (trainer.tiny), starts
`transformers serve MODEL --continuous-batching --device cpu` on a free loopback port, and stops
it at the end. Each concurrency level runs the full pipeline (RemoteBackend + run_concurrently)
over the same K images (resources/samples, repeated) after one warm-up image. A random model never
writes parsable regions, so each image is one Query 1 of exactly --max-new-tokens tokens; with a
trained model the close-ups and Query 2 run too. The figures go to stdout and, as a Markdown
table, to --out.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspector.core.backends.base import GenerationSettings  # noqa: E402
from inspector.core.backends.remote import (  # noqa: E402
    SERVER_MAX_PIXELS,
    SERVER_MIN_PIXELS,
    RemoteBackend,
    RemoteSpec,
)
from inspector.core.batch import run_concurrently  # noqa: E402
from inspector.core.closeups import CloseupPolicy  # noqa: E402
from inspector.core.imageio import iter_image_files  # noqa: E402
from inspector.core.pipeline import Pipeline, PipelineOptions  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    exe = Path(sys.executable).parent / "transformers"
    cmd = [str(exe), "serve", str(model_dir), "--continuous-batching", "--device", "cpu",
           "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"transformers serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.terminate()
    raise SystemExit("transformers serve did not become healthy in 180 s")


def measure(pipeline: Pipeline, paths: list[Path], n: int) -> tuple[float, int, int]:
    errors, queries = [], [0]

    def on_done(path, analysis, error):
        if error is not None:
            errors.append(f"{path}: {error}")
        else:
            queries[0] += 1 + (analysis.query2 is not None)

    t0 = time.perf_counter()
    run_concurrently(pipeline.analyze, paths, n, on_done)
    seconds = time.perf_counter() - t0
    if errors:
        raise SystemExit("\n".join(errors))
    return seconds, len(paths), queries[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server")
    ap.add_argument("--model", help="served model name (with --server) or a model folder")
    ap.add_argument("--model-type", default="qwen2_5_vl")
    ap.add_argument("--min-pixels", type=int)
    ap.add_argument("--max-pixels", type=int)
    ap.add_argument("--images", nargs="*", default=[str(ROOT / "resources" / "samples")])
    ap.add_argument("--count", type=int, default=8, help="images per concurrency level")
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", default=str(ROOT / "docs" / "remote_throughput.md"))
    args = ap.parse_args()

    files = sorted(p for item in args.images for p in iter_image_files([Path(item)]))
    paths = [files[i % len(files)] for i in range(args.count)]
    proc = None
    tmp = tempfile.TemporaryDirectory()
    if args.server:
        url, model = args.server, args.model
        lo, hi = args.min_pixels or SERVER_MIN_PIXELS, args.max_pixels or SERVER_MAX_PIXELS
        what = f"server {url}, model {model}"
    else:
        from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

        folder = Path(args.model) if args.model else build_tiny_model(Path(tmp.name) / "m")
        lo, hi = args.min_pixels or MIN_PIXELS, args.max_pixels or MAX_PIXELS
        proc, url = start_server(folder, Path(tmp.name) / "serve.log")
        model = str(folder)
        what = ("`transformers serve --continuous-batching --device cpu`, "
                + ("model " + str(folder) if args.model else "tiny random Qwen2.5-VL"))
    try:
        settings = GenerationSettings(max_new_tokens_locate=args.max_new_tokens,
                                      max_new_tokens_examine=args.max_new_tokens)
        spec = RemoteSpec(base_url=url, model=model, model_type=args.model_type,
                          min_pixels=lo, max_pixels=hi)
        backend = RemoteBackend(spec, settings)
        pipeline = Pipeline(backend, PipelineOptions(policy=CloseupPolicy()))
        measure(pipeline, paths[:1], 1)  # warm-up
        rows = []
        for n in args.concurrency:
            seconds, images, queries = measure(pipeline, paths, n)
            rate = images * 60.0 / seconds
            rows.append((n, images, queries, seconds, rate))
            print(f"N={n}: {images} images ({queries} queries) in {seconds:.2f} s "
                  f"= {rate:.1f} images/min", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        tmp.cleanup()

    base = rows[0][4]
    lines = [
        "# Remote backend throughput",
        "",
        "`python benchmarks/remote_throughput.py` — " + what + f"; {len(paths)} images "
        f"({', '.join(p.name for p in files)} repeated), {args.max_new_tokens} new tokens per "
        f"answer, image bounds {lo}..{hi} pixels; client and server on the same "
        f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}).",
        "",
        "| concurrency N | images | queries | seconds | images / min | vs N=1 |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, images, queries, seconds, rate in rows:
        lines.append(f"| {n} | {images} | {queries} | {seconds:.2f} | {rate:.1f} | "
                     f"{rate / base:.2f}x |")
    if not args.server:
        lines += [
            "",
            "Note: transformers 5.23 `serve` runs continuous batching for text-only models only; "
            "for a VLM it logs \"does not support continuous batching. Falling back to sequential "
            "generation\", so N > 1 gains only from overlapping the client's work (loading, "
            "resizing, PNG encoding) and HTTP with the server's generation. The server-side "
            "batching the issue asks about needs vLLM; rerun with `--server URL --model NAME`.",
        ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
