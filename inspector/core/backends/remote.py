"""Remote backend: any OpenAI-compatible chat-completions server (vLLM in production).

Images travel as base64 data URLs (several per message), answers are streamed over SSE, and the
verdict confidence is read from `top_logprobs` when the server offers them (vLLM does;
`transformers serve` ignores the request and the confidence is then None).

Resize bounds: every image is resized here, before encoding, to exactly the size the coordinate
space assumes (`coordinate_space.resized_size`, a multiple of the patch factor inside the bounds).
The server's own `smart_resize` is then the identity whatever its configured bounds, as long as
they include that size, so boxes map back exactly. `min_pixels`/`max_pixels` are also sent as
`mm_processor_kwargs` (vLLM's per-request override); a server that rejects the field (transformers
serve answers 422) gets requests without it from then on.

The API key comes from an environment variable or the OS keyring and is only ever put in the
Authorization header: never on the provenance, in settings, exceptions or logs.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from inspector import __version__
from inspector.core.backends.base import (
    BackendError,
    CancelCheck,
    GenerationSettings,
    ModelNotFoundError,
    TokenCallback,
    TurnResult,
)
from inspector.core.backends.confidence import confidence_from_top_logprobs
from inspector.core.geometry import QWEN25_TOKEN_PIXELS, coordinate_space_for
from inspector.core.protocol import PROMPTS_VERSION
from inspector.core.results import ModelProvenance

IMAGE_FORMATS = ("png", "jpeg")
TOP_LOGPROBS = 20  # the most vLLM and OpenAI return per position

# Image resize bounds sent with each request (64..1024 vision tokens): a smaller default than
# the local presets', so that one server can serve many desktops.
SERVER_MIN_PIXELS = 64 * QWEN25_TOKEN_PIXELS
SERVER_MAX_PIXELS = 1024 * QWEN25_TOKEN_PIXELS


class RemoteConnectionError(BackendError):
    """The server could not be reached at all."""

    @classmethod
    def of(cls, url: str, reason: str) -> RemoteConnectionError:
        """From a connection error's text: a refused connection said plainly (the server is
        not running there), anything else as the library put it."""
        if "refused" in reason.lower() or "errno 111" in reason.lower():
            reason = "connection refused — is it running?"
        return cls(f"could not reach the server at {url}: {reason}")


class AuthenticationError(BackendError):
    """HTTP 401/403: the API key is missing or wrong."""


class ModelNotServedError(ModelNotFoundError):
    """HTTP 404: the server does not serve the model (or is not OpenAI-compatible)."""


class PayloadTooLargeError(BackendError):
    """HTTP 413: the request (its images) is too large for the server."""


class ServerError(BackendError):
    """HTTP 5xx, a timeout or a broken stream, after the configured retries."""


class RequestRejectedError(BackendError):
    """Any other 4xx: the server refused the request as malformed."""


@dataclass
class RemoteSpec:
    """Where the model runs. Holds no secret: the key is looked up when the backend is built."""

    base_url: str  # e.g. http://gpu-box:8000 or http://gpu-box:8000/v1
    model: str  # the served model name
    model_type: str = "qwen2_5_vl"  # config.model_type of the served model: picks the coordinates
    min_pixels: int = SERVER_MIN_PIXELS  # the server's own resize bounds must include them
    max_pixels: int = SERVER_MAX_PIXELS
    api_key_env: str = "LTE_API_KEY"
    keyring_service: str = "lte-inspector"  # keyring entry: (service, base_url)
    timeout: float = 120.0  # seconds to connect, and to wait for each streamed chunk
    retries: int = 3  # further attempts after a 5xx or a timeout (before the first token)
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    logprobs: bool = True  # ask for top_logprobs to read the verdict confidence
    mm_processor_kwargs: bool = True  # send min/max pixels per request (vLLM)
    image_format: str = "png"  # png is lossless: no new compression artifacts on evidence

    def validate(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(
                f"server URL must look like http://host:port, got {server_url(self.base_url)!r}"
            )
        if parts.username or parts.password:
            raise BackendError(
                "put the API key in the environment variable "
                f"{self.api_key_env} or the OS keyring, not in the server URL"
            )
        if self.image_format not in IMAGE_FORMATS:
            raise BackendError(f"image_format must be one of {', '.join(IMAGE_FORMATS)}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise BackendError("min_pixels must be positive and not above max_pixels")
        if self.timeout <= 0 or self.retries < 0:
            raise BackendError("timeout must be positive and retries not negative")


def server_url(base_url: str) -> str:
    """The URL without credentials, query or fragment: safe to show and to record."""
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _api_root(base_url: str) -> str:
    url = server_url(base_url)
    return url if url.endswith("/v1") else url + "/v1"


def find_api_key(spec: RemoteSpec) -> str | None:
    """The key from the environment variable, else from the OS keyring, else None."""
    key = os.environ.get(spec.api_key_env)
    if key:
        return key
    try:
        import keyring

        return keyring.get_password(spec.keyring_service, server_url(spec.base_url)) or None
    except Exception:  # no keyring installed, no backend, locked, D-Bus missing...
        return None


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _encode_image(image, target: tuple[int, int], fmt: str) -> str:
    from PIL import Image

    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != target:
        image = image.resize(target, Image.BICUBIC)
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=1)
        mime = "image/png"
    else:
        image.save(buf, format="JPEG", quality=95)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def to_openai_messages(messages: list[dict[str, Any]], resize, fmt: str = "png") -> list[dict]:
    """Our HF-format conversation → OpenAI chat format (images as data URLs).

    `resize(image_size) -> (width, height)` gives the size every image is sent at.
    """
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content or []:
            kind = part.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": part["text"]})
            elif kind == "image":
                image = part.get("image")
                if image is None:
                    raise BackendError("an image part without a PIL image cannot be sent")
                url = _encode_image(image, resize(image.size), fmt)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                raise BackendError(f"unsupported message part {kind!r}")
        if message["role"] == "assistant" and all(p["type"] == "text" for p in parts):
            out.append({"role": "assistant", "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": message["role"], "content": parts})
    return out


# --------------------------------------------------------------------------------------------
# Backend
# --------------------------------------------------------------------------------------------


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RemoteBackend:
    """A model behind an OpenAI-compatible server. Thread-safe: share one between threads."""

    backend_name = "openai"

    def __init__(self, spec: RemoteSpec, settings: GenerationSettings | None = None) -> None:
        import httpx

        spec.validate()
        self.spec = spec
        self.settings = settings or GenerationSettings()
        self.url = server_url(spec.base_url)
        self._root = _api_root(spec.base_url)
        try:
            self.coordinate_space = coordinate_space_for(
                spec.model_type, spec.min_pixels, spec.max_pixels
            )
        except ValueError as exc:
            raise BackendError(f"{spec.model}: {exc}") from exc
        self._api_key = find_api_key(spec)
        self._lock = threading.Lock()
        self._send_mm_kwargs = spec.mm_processor_kwargs
        timeout = httpx.Timeout(spec.timeout, connect=min(spec.timeout, 10.0))
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self.provenance = ModelProvenance(
            model_id=spec.model,
            backend=self.backend_name,
            model_type=spec.model_type,
            device=f"remote server {self.url}",
            prompts_version=PROMPTS_VERSION,
            generation={
                **self.settings.to_dict(),
                "server_url": self.url,
                "min_pixels": spec.min_pixels,
                "max_pixels": spec.max_pixels,
                "image_format": spec.image_format,
                "client_side_resize": True,
            },
            software_version=__version__,
        )

    # -- protocol -------------------------------------------------------------------------------

    def global_scale(self, image_size: tuple[int, int]) -> float:
        return self.coordinate_space.view_scale(image_size)

    def reset(self) -> None:
        """Nothing to drop: the server keeps no conversation state for us."""

    def close(self) -> None:
        self._client.close()

    def generate_turn(
        self,
        messages: list[dict[str, Any]],
        *,
        max_new_tokens: int,
        on_token: TokenCallback | None = None,
        is_cancelled: CancelCheck | None = None,
    ) -> TurnResult:
        started = time.perf_counter()
        cancelled = is_cancelled or (lambda: False)
        oai_messages = to_openai_messages(
            messages, self.coordinate_space.resized_size, self.spec.image_format
        )
        details: dict[str, Any] = {}
        attempts = self.spec.retries + 1
        last = ""
        for attempt in range(attempts):
            if cancelled():
                return self._cancelled_result(started, details)
            try:
                return self._attempt(
                    oai_messages, max_new_tokens, on_token, cancelled, started, details
                )
            except _Retry as retry:
                last = retry.message
                if attempt + 1 < attempts:
                    delay = self.spec.backoff * (2**attempt)
                    details.setdefault("retries", []).append(last)
                    deadline = time.monotonic() + delay
                    while time.monotonic() < deadline:  # stay cancellable while backing off
                        if cancelled():
                            return self._cancelled_result(started, details)
                        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        raise ServerError(f"{last} (gave up after {attempts} attempts)")

    # -- one request --------------------------------------------------------------------------

    def _body(self, messages, max_new_tokens: int) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if s.do_sample:
            body.update(temperature=s.temperature, top_p=s.top_p, seed=s.seed)
        else:
            body["temperature"] = 0.0
        if self.spec.logprobs:
            body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        with self._lock:
            send_mm = self._send_mm_kwargs
        if send_mm:
            body["mm_processor_kwargs"] = {
                "min_pixels": self.spec.min_pixels,
                "max_pixels": self.spec.max_pixels,
            }
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _scrub(self, text: str) -> str:
        """Server text, shortened, with the key removed should a server ever echo it."""
        text = " ".join(text.split())[:300]
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text

    def _attempt(self, messages, max_new_tokens, on_token, cancelled, started, details):
        import httpx

        body = self._body(messages, max_new_tokens)
        url = self._root + "/chat/completions"
        try:
            with self._client.stream("POST", url, json=body, headers=self._headers()) as resp:
                if resp.status_code != 200:
                    resp.read()
                    if (
                        resp.status_code in (400, 422)
                        and "mm_processor_kwargs" in resp.text
                        and "mm_processor_kwargs" in body
                    ):
                        with self._lock:
                            self._send_mm_kwargs = False
                        return self._attempt(
                            messages, max_new_tokens, on_token, cancelled, started, details
                        )
                    self._raise_for_status(resp)
                details["mm_processor_kwargs"] = (
                    "sent" if "mm_processor_kwargs" in body else "not sent (server rejects it)"
                )
                return self._read_stream(resp, on_token, cancelled, started, details)
        except httpx.ConnectError as exc:
            raise RemoteConnectionError.of(self.url, self._scrub(str(exc))) from None
        except httpx.TimeoutException:
            raise _Retry(
                f"the server at {self.url} did not answer within {self.spec.timeout:g} s"
            ) from None
        except httpx.TransportError as exc:  # connection dropped before any token
            raise _Retry(
                f"the connection to {self.url} broke: {self._scrub(str(exc)) or type(exc).__name__}"
            ) from None

    def _raise_for_status(self, resp) -> None:
        code = resp.status_code
        detail = self._scrub(resp.text)
        if code in (401, 403):
            env = self.spec.api_key_env
            if self._api_key:
                raise AuthenticationError(
                    f"the server at {self.url} refused the API key (HTTP {code}); check the key "
                    f"in the environment variable {env} or the OS keyring "
                    f"(service {self.spec.keyring_service!r})"
                )
            raise AuthenticationError(
                f"the server at {self.url} needs an API key (HTTP {code}); set the environment "
                f"variable {env} or store it in the OS keyring (service "
                f"{self.spec.keyring_service!r}, user {self.url!r})"
            )
        if code == 404:
            served = self.served_models()
            if served is None:
                raise ModelNotServedError(
                    f"model {self.spec.model!r} is not served at {self.url} (HTTP 404), or this is "
                    "not an OpenAI-compatible server"
                )
            listing = ", ".join(served) if served else "none"
            raise ModelNotServedError(
                f"model {self.spec.model!r} is not served at {self.url} (HTTP 404); it serves: "
                f"{listing}"
            )
        if code == 413:
            raise PayloadTooLargeError(
                f"the images were too large for the server at {self.url} (HTTP 413): lower max "
                "pixels or the number of regions"
            )
        if code >= 500 or code == 429:
            raise _Retry(f"the server at {self.url} failed (HTTP {code}: {detail})")
        raise RequestRejectedError(
            f"the server at {self.url} rejected the request (HTTP {code}): {detail}"
        )

    def served_models(self) -> list[str] | None:
        """Model names from /v1/models, or None when that list cannot be read."""
        try:
            resp = self._client.get(self._root + "/models", headers=self._headers(), timeout=10.0)
            if resp.status_code != 200:
                return None
            return [str(m.get("id")) for m in resp.json().get("data", [])]
        except Exception:
            return None

    def _read_stream(self, resp, on_token, cancelled, started, details) -> TurnResult:
        import httpx

        pieces: list[str] = []
        lp_tokens: list[str] = []
        lp_chosen: list[float] = []  # each generated token's own log-probability
        lp_tops: list[dict[str, float]] = []
        usage = None
        finish = None
        try:
            for line in resp.iter_lines():
                if cancelled():
                    resp.close()  # the server sees the disconnect and stops generating
                    return self._cancelled_result(started, details, "".join(pieces))
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise ServerError(
                        f"the server at {self.url} failed while answering: "
                        f"{self._scrub(str(message))}"
                    )
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    if piece:
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    logprobs = choice.get("logprobs") or {}
                    for entry in logprobs.get("content") or []:
                        lp_tokens.append(entry.get("token", ""))
                        lp_chosen.append(_finite_or(entry.get("logprob"), -math.inf))
                        lp_tops.append(
                            {
                                t.get("token", ""): float(t.get("logprob", -math.inf))
                                for t in entry.get("top_logprobs") or []
                            }
                        )
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except httpx.TransportError as exc:
            if pieces:  # tokens were already handed out: a retry would repeat them
                raise ServerError(
                    f"the connection to {self.url} broke after {len(pieces)} streamed pieces "
                    f"({type(exc).__name__})"
                ) from None
            raise
        text = "".join(pieces)
        if finish is None and not pieces:
            raise _Retry(f"the server at {self.url} closed the stream without an answer")
        result = self._result(text, usage, finish, lp_tokens, lp_tops, started, details)
        result.token_scores = token_scores_from_logprobs(text, lp_tokens, lp_chosen)
        return result

    def _result(self, text, usage, finish, lp_tokens, lp_tops, started, details) -> TurnResult:
        prompt = generated = prefill = 0
        if usage:
            prompt = int(usage.get("prompt_tokens") or 0)
            generated = int(usage.get("completion_tokens") or 0)
            cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
            prefill = prompt - cached
            details["usage"] = "reported by the server"
            if cached:
                details["cached_prompt_tokens"] = cached
        else:
            details["usage"] = "not reported by the server; token counts are 0"
        confidence = None
        if self.spec.logprobs:
            if lp_tokens:
                confidence = confidence_from_top_logprobs(lp_tokens, lp_tops)
                details["logprobs"] = f"top {TOP_LOGPROBS} per token"
            else:
                details["logprobs"] = "not returned by the server; no confidence"
        stop = {"stop": "eos", "length": "length"}.get(finish or "", finish or "eos")
        return TurnResult(
            text=text,
            prompt_tokens=prompt,
            prefill_tokens=prefill,
            generated_tokens=generated,
            seconds=time.perf_counter() - started,
            stop_reason=stop,
            confidence=confidence,
            details=details,
        )

    def _cancelled_result(self, started, details, text: str = "") -> TurnResult:
        return TurnResult(
            text=text,
            prompt_tokens=0,
            prefill_tokens=0,
            generated_tokens=0,
            seconds=time.perf_counter() - started,
            stop_reason="cancelled",
            details=details,
        )


def _finite_or(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def token_scores_from_logprobs(
    text: str, tokens: list[str], logprobs: list[float]
) -> list[tuple[int, float]] | None:
    """``TurnResult.token_scores`` from a server's per-token logprobs: each token's end offset in
    the answer and its log-probability; None when there are none or their text is not the
    answer's (a server that reports tokens some other way)."""
    if not tokens or len(tokens) != len(logprobs) or "".join(tokens) != text:
        return None
    scores, end = [], 0
    for token, logprob in zip(tokens, logprobs, strict=True):
        end += len(token)
        scores.append((end, logprob))
    return scores
