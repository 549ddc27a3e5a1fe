"""Run a simulated counterparty: an engine configured by a profile (settings file).

``fixengine sim --profile acceptance --port 5001`` serves the QuickFIX acceptance
scripts. A profile is a settings file, ``fixengine/profiles/<name>.cfg`` or any path;
:data:`APPLICATIONS` names the application that runs with a shipped profile.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from ..application import Application, Engine
from ..errors import ConfigError
from ..transport.acceptor import AcceptorOptions

__all__ = ["APPLICATIONS", "ProfileSpec", "add_arguments", "profile_path", "run"]

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


@dataclasses.dataclass(frozen=True)
class ProfileSpec:
    """What runs with a shipped profile besides its settings file."""

    application: Callable[[], Application]
    #: transport options no settings key expresses
    acceptor_options: AcceptorOptions | None = None


def _echo() -> Application:
    from .acceptance import EchoApplication

    return EchoApplication()


#: profile name -> what runs with it.
APPLICATIONS: dict[str, ProfileSpec] = {
    # QuickFIX closes a refused connection (unknown CompIDs, second Logon of a
    # session, 1b/1c/1d) without sending anything, and the scripts expect exactly that
    "acceptance": ProfileSpec(_echo, AcceptorOptions(refusal_logout=False)),
}


def profile_path(profile: str) -> Path:
    """The settings file of a shipped profile name, or ``profile`` itself as a path."""
    shipped = PROFILES_DIR / f"{profile}.cfg"
    if shipped.is_file():
        return shipped
    path = Path(profile)
    if path.is_file():
        return path
    names = sorted(p.stem for p in PROFILES_DIR.glob("*.cfg"))
    raise ConfigError(f"no profile {profile!r} (shipped: {', '.join(names)}; or give a path)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine sim``."""
    parser.add_argument("--profile", required=True, help="profile name or settings file")
    parser.add_argument("--port", type=int, help="listen on this port (every acceptor session)")
    parser.add_argument("--host", help="listen on this address (default: the profile's)")
    parser.add_argument(
        "--app",
        choices=sorted(APPLICATIONS),
        help="application to run (default: the one that goes with a shipped profile)",
    )
    parser.add_argument("--log-dir", help="write each session's message log under this directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine events")


def run(args: argparse.Namespace) -> int:
    """Start the engine of the profile and serve until interrupted."""
    from ..settings import load_settings
    from ..transport.loop import run as run_loop

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        path = profile_path(args.profile)
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"fixengine sim: {exc}")
        return 2
    changed = []
    for s in settings:
        if s.connection_type == "acceptor":
            if args.port is not None:
                s = dataclasses.replace(s, accept_port=args.port)
            if args.host is not None:
                s = dataclasses.replace(s, accept_host=args.host)
        if args.log_dir:
            s = dataclasses.replace(s, log_type="file", log_path=args.log_dir)
        changed.append(s)
    app_name = args.app or (path.stem if path.parent == PROFILES_DIR else "")
    spec = APPLICATIONS.get(app_name)
    application = spec.application() if spec is not None else None
    options = spec.acceptor_options if spec is not None else None
    try:
        engine = Engine.from_settings(changed, application, acceptor_options=options)
    except ConfigError as exc:
        print(f"fixengine sim: {exc}")
        return 2

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, lambda: loop.create_task(engine.stop()))
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Unix
                pass
        await engine.start()
        ports = sorted({a.port for a in engine.acceptors})
        print(
            f"fixengine sim: profile {path.stem}, {len(changed)} session(s), port(s) {ports}",
            flush=True,
        )
        await engine.serve_forever()

    run_loop(main())
    return 0
