"""Opening a backend: one way, for the command line, the window and the trainer.

A :class:`BackendChoice` says what to run: a model loaded in this process (a
:class:`~inspector.core.backends.spec.LocalModelSpec`), a model behind an OpenAI-compatible server
(a :class:`~inspector.core.backends.remote.RemoteSpec`), or the bundled demo checkpoint.
:func:`open_backend` loads or connects to it. Callers keep their own words around it (progress
lines, banners, error prefixes); what is loaded and how is decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from inspector.core.backends.base import Backend, BackendError, GenerationSettings
from inspector.core.backends.remote import RemoteSpec, server_url
from inspector.core.backends.spec import LocalModelSpec
from inspector.core.demo_model import demo_model_dir, is_demo_folder
from inspector.core.extras import LOCAL_MODULES, missing_extra

__all__ = [
    "KINDS",
    "BackendChoice",
    "ServedModelUnknown",
    "open_backend",
    "reach_server",
    "served_model_name",
]

KINDS = ("local", "remote", "demo")


class ServedModelUnknown(BackendError):
    """No model name was given and the server does not serve exactly one model.

    ``served`` lists what it serves (None when the list could not be read), so a caller can say
    how to name one in its own terms (a command-line flag, a settings field).
    """

    def __init__(self, url: str, served: list[str] | None) -> None:
        self.served = served
        if served:
            text = (f"the server at {url} serves several models ({', '.join(served)}); "
                    "name the one to use")
        else:
            text = (f"could not read which models the server at {url} serves; "
                    "name the model to use")
        super().__init__(text)


@dataclass(frozen=True)
class BackendChoice:
    """What to run. Build it with :meth:`of_local`, :meth:`of_remote` or :meth:`of_demo`."""

    kind: str  # "local" | "remote" | "demo"
    local: LocalModelSpec | None = None  # for "local" and "demo"
    remote: RemoteSpec | None = None  # for "remote"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if (self.kind == "remote") != (self.remote is not None) or (
            (self.kind != "remote") != (self.local is not None)
        ):
            raise ValueError(f"a {self.kind} choice needs exactly its own spec")

    @classmethod
    def of_local(cls, spec: LocalModelSpec) -> BackendChoice:
        return cls("local", local=spec)

    @classmethod
    def of_remote(cls, spec: RemoteSpec) -> BackendChoice:
        """A served model; ``spec.model == ""`` means the only model the server lists."""
        return cls("remote", remote=spec)

    @classmethod
    def of_demo(cls, device: str = "auto", folder: str | Path | None = None
                ) -> BackendChoice | None:
        """The bundled demo checkpoint, or None when it is not bundled (see demo_model_dir)."""
        found = demo_model_dir(folder)
        if found is None:
            return None
        return cls("demo", local=LocalModelSpec(source=str(found), device=device))

    @property
    def is_demo(self) -> bool:
        """The demo checkpoint, whether chosen as such or given as a model folder."""
        return self.kind == "demo" or (
            self.local is not None and is_demo_folder(Path(self.local.source).expanduser())
        )

    def describe(self) -> str:
        """What is being opened, in a few words: the model's id or folder, or the server."""
        if self.remote is not None:
            name = self.remote.model or "the model"
            return f"{name} at {server_url(self.remote.base_url)}"
        assert self.local is not None
        if self.local.adapter:
            return f"{self.local.source} + adapter {self.local.adapter}"
        return self.local.source


def reach_server(spec: RemoteSpec) -> list[str] | None:
    """Connect to the server at ``spec.base_url``: the model names it lists, or None when it
    answers but its list cannot be read. Raises RemoteConnectionError when nothing answers there
    (refused, unknown host, no answer), so a server that is down is said first, before anything is
    made for the analyses (BackendError for a malformed URL)."""
    import httpx

    from inspector.core.backends.remote import RemoteBackend, RemoteConnectionError

    probe = RemoteBackend(replace(spec, model=spec.model or "?"), GenerationSettings())
    try:
        served = probe.served_models()
    finally:
        probe.close()
    if served is not None:
        return served
    url = server_url(spec.base_url)
    try:  # the list could not be read: is anything listening at all?
        httpx.get(url, timeout=10.0, follow_redirects=False)
    except httpx.ConnectError as exc:
        raise RemoteConnectionError.of(url, str(exc)) from None
    except httpx.TimeoutException:
        raise RemoteConnectionError(
            f"could not reach the server at {url}: no answer within 10 s") from None
    except httpx.HTTPError:
        pass  # something answered (badly): the caller says what it could not read
    return None


def served_model_name(spec: RemoteSpec) -> str:
    """The one model the server at ``spec.base_url`` lists; ServedModelUnknown otherwise
    (RemoteConnectionError when the server cannot be reached)."""
    served = reach_server(spec)
    if served and len(served) == 1:
        return served[0]
    raise ServedModelUnknown(server_url(spec.base_url), served)


def open_backend(
    choice: BackendChoice,
    settings: GenerationSettings | None = None,
    on_message: Callable[[str], None] | None = None,
) -> Backend:
    """Load the chosen model here, or connect to its server; the Backend the pipeline runs.

    ``settings`` default to greedy decoding with the default token limits. ``on_message``
    receives status lines meant for the user (the memory check before a local load). Raises
    BackendError (or a subclass: ModelNotFoundError, OutOfMemoryError, ServedModelUnknown, the
    remote backend's connection errors) with a message meant for the user; also when a local
    model is asked for on an install without the `local` extra (a light client).
    """
    settings = settings if settings is not None else GenerationSettings()
    if choice.remote is not None:
        from inspector.core.backends.remote import RemoteBackend

        spec = choice.remote
        if not spec.model:
            spec = replace(spec, model=served_model_name(spec))
        else:
            reach_server(spec)  # a server that is down fails here, not on the first image
        return RemoteBackend(spec, settings)
    missing = missing_extra("running a model on this computer", "local", LOCAL_MODULES)
    if missing:
        raise BackendError(f"{missing} (or analyse on a model server instead)")
    from inspector.core.backends.local import LocalBackend

    assert choice.local is not None
    return LocalBackend(choice.local, settings, on_message=on_message)
