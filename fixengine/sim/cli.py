"""Run a simulated FIX counterparty: an exchange that trades, or a shipped profile.

Three forms::

    fixengine sim --port 9878 --sender-comp-id EXEC --target-comp-id CLIENT \\
        --begin-string FIX.4.4 [--fill immediate|partial|none|reject]
    fixengine sim --config sim.cfg          # any number of sessions, Sim* keys
    fixengine sim --profile acceptance --port 5001

The first two run the exchange simulator (:mod:`fixengine.sim.exchange`: order books
per symbol, fill models, fault injection; see ``fixengine/profiles/sim.cfg``). A
profile is a settings file, ``fixengine/profiles/<name>.cfg`` or any path;
:data:`APPLICATIONS` names the application that runs with a shipped profile (the
``acceptance`` profile serves the QuickFIX acceptance scripts), and a profile without
one is run by the simulator. The simulator prints a line when it listens, one per
logon, logout and injected fault, and a summary when stopped (Ctrl-C or SIGTERM:
exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..application import Application, Engine
from ..cli import number_in, whole_number
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


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0: any free port), not {n}")
    return n


def _price(text: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not d.is_finite() or d <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive price, not {text}")
    return d


def _refusals(text: str) -> int:
    if text.lower() in ("all", "y", "yes"):
        return -1
    return whole_number(1)(text)


_HELP = """\
Run a simulated FIX counterparty. Three forms:

  fixengine sim --port 9878 --sender-comp-id EXEC --target-comp-id CLIENT \\
      --begin-string FIX.4.4 [--fill immediate|partial|none|reject]
  fixengine sim --config sim.cfg        (any number of sessions; see
                                         fixengine/profiles/sim.cfg for the Sim* keys)
  fixengine sim --profile acceptance --port 5001

The first two run an exchange: one order book per symbol shared by every
session, fill models for a client trading alone, fault injection. Ctrl-C or
SIGTERM stops it, prints a summary and exits with 0."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine sim``."""
    from .exchange import FILL_MODELS
    from .faults import SKIP_MODES

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = _HELP
    what = parser.add_argument_group("what to run (one of)")
    what.add_argument("--config", metavar="FILE", help="simulator settings file (many sessions)")
    what.add_argument("--profile", help="profile name or settings file")
    one = parser.add_argument_group("one session (with --port)")
    one.add_argument("--sender-comp-id", metavar="ID", help="our SenderCompID (default EXEC)")
    one.add_argument("--target-comp-id", metavar="ID", help="the client's CompID (default CLIENT)")
    one.add_argument(
        "--begin-string",
        metavar="VERSION",
        help="FIX.4.2, FIX.4.3, FIX.4.4, FIXT.1.1 or FIX.5.0SP2 (default FIX.4.4)",
    )
    one.add_argument(
        "--default-appl-ver-id", metavar="VERSION", help="FIXT.1.1 application version"
    )
    net = parser.add_argument_group("network and logs")
    net.add_argument("--port", type=_port, help="listen on this port (0: any free port)")
    net.add_argument("--host", help="listen on this address (default 127.0.0.1)")
    net.add_argument(
        "--log-dir", metavar="DIR", help="write each session's message log under this directory"
    )
    net.add_argument("-v", "--verbose", action="store_true", help="log engine events")
    net.add_argument(
        "--app",
        choices=sorted(APPLICATIONS),
        help="application to run with --profile (default: the one that goes with it)",
    )
    trade = parser.add_argument_group("trading")
    trade.add_argument(
        "--fill",
        choices=FILL_MODELS,
        help="how a lone client's orders fill (default immediate)",
    )
    trade.add_argument(
        "--partial-fraction",
        type=number_in(0, 1),
        metavar="SHARE",
        help="share per partial fill (0-1)",
    )
    trade.add_argument(
        "--partial-interval", type=float, metavar="SECONDS", help="time between partial fills"
    )
    trade.add_argument(
        "--reject-fraction", type=number_in(0, 1), metavar="SHARE", help="share of orders rejected"
    )
    trade.add_argument("--seed", type=int, metavar="N", help="random seed of the reject model")
    trade.add_argument(
        "--symbols", metavar="LIST", help="comma-separated symbols accepted (default: any)"
    )
    trade.add_argument(
        "--reference-price", type=_price, metavar="PRICE", help="price every symbol opens at"
    )
    trade.add_argument(
        "--tick-size", type=_price, metavar="PRICE", help="prices must be multiples of this"
    )
    trade.add_argument(
        "--cancel-on-disconnect", action="store_true", help="cancel a session's orders on logout"
    )
    check = parser.add_argument_group("session rules")
    check.add_argument(
        "--reset-on-logon", action="store_true", help="reset sequence numbers at every Logon"
    )
    check.add_argument(
        "--accept-any-comp-id", action="store_true", help="accept Logons from any CompID pair"
    )
    check.add_argument(
        "--data-dictionary", metavar="PATH", help="dictionary to validate with (default shipped)"
    )
    check.add_argument(
        "--no-validate", action="store_true", help="do not validate messages with a dictionary"
    )
    check.add_argument(
        "--heartbeat",
        type=whole_number(1),
        metavar="SECONDS",
        help="refuse Logons whose HeartBtInt(108) is not this",
    )
    faults = parser.add_argument_group("fault injection (every session)")
    faults.add_argument(
        "--drop-after", type=whole_number(1), metavar="N", help="drop after N messages"
    )
    faults.add_argument(
        "--skip-seq",
        type=whole_number(1),
        metavar="N",
        help="withhold the next N application messages",
    )
    faults.add_argument("--skip-mode", choices=SKIP_MODES, help="resend (default) or gap-fill")
    faults.add_argument(
        "--garble-every",
        type=whole_number(1),
        metavar="N",
        help="a garbled copy every N-th message",
    )
    faults.add_argument(
        "--delay-ms",
        type=number_in(0, 3_600_000),
        metavar="MS",
        help="delay every outgoing message",
    )
    faults.add_argument(
        "--refuse-logon",
        type=_refusals,
        nargs="?",
        const=-1,
        metavar="N",
        help="refuse the next N Logons (no N: all)",
    )
    faults.add_argument(
        "--no-heartbeats", action="store_true", help="send no Heartbeats (the client times out)"
    )


_ONE_SESSION = ("sender_comp_id", "target_comp_id", "begin_string", "default_appl_ver_id")


def _say(text: str) -> None:
    print(f"fixengine sim: {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Start the simulator (or a profile's engine) and serve until interrupted."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    one_session = [f"--{n.replace('_', '-')}" for n in _ONE_SESSION if getattr(args, n)]
    if args.config and args.profile:
        _say("give --config or --profile, not both")
        return 2
    if (args.config or args.profile) and one_session:
        _say(f"{', '.join(one_session)} describe the one-session form; drop --config/--profile")
        return 2
    if args.profile:
        try:
            path = profile_path(args.profile)
        except ConfigError as exc:
            _say(str(exc))
            return 2
        app_name = args.app or (path.stem if path.parent == PROFILES_DIR else "")
        if app_name in APPLICATIONS:
            return _run_profile(args, path, APPLICATIONS[app_name])
        return _run_simulator(args, config=path)
    if args.app:
        _say("--app goes with --profile")
        return 2
    if args.config:
        return _run_simulator(args, config=Path(args.config))
    if args.port is None:
        _say(
            "nothing to serve: give --port PORT (with --sender-comp-id, --target-comp-id, "
            "--begin-string), --config FILE or --profile NAME; see fixengine sim --help"
        )
        return 2
    return _run_simulator(args, config=None)


# -- the exchange simulator -------------------------------------------------------------------


def _fill_spec(args: argparse.Namespace, base: Any) -> Any:
    changes: dict[str, Any] = {}
    if args.fill is not None:
        changes["model"] = args.fill
    if args.partial_fraction is not None:
        changes["partial_fraction"] = Decimal(str(args.partial_fraction))
    if args.partial_interval is not None:
        changes["partial_interval"] = args.partial_interval
    if args.reject_fraction is not None:
        changes["reject_fraction"] = args.reject_fraction
    if args.seed is not None:
        changes["seed"] = args.seed
    return dataclasses.replace(base, **changes) if changes else base


def _apply_faults(args: argparse.Namespace, faults: Any) -> None:
    if args.drop_after is not None:
        faults.drop_after = args.drop_after
    if args.skip_seq is not None:
        faults.skip_seq = args.skip_seq
    if args.skip_mode is not None:
        faults.skip_mode = args.skip_mode
    if args.garble_every is not None:
        faults.garble_every = args.garble_every
    if args.delay_ms is not None:
        faults.delay_ms = args.delay_ms
    if args.refuse_logon is not None:
        faults.refuse_logons = args.refuse_logon
    if args.no_heartbeats:
        faults.heartbeats = False


def _build_simulator(args: argparse.Namespace, config: Path | None) -> Any:
    from .exchange import FillSpec
    from .faults import Faults
    from .server import SimSession, Simulator, load_simulator_settings

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
    common: dict[str, Any] = {
        "host": args.host,
        "data_dictionary": args.data_dictionary,
        "validate": not args.no_validate,
        "log_dir": args.log_dir,
        "notify": _say,
        # nothing here changes faults once running: a session without any is served plain
        "fault_controls": False,
    }
    template = Faults()
    _apply_faults(args, template)
    if config is None:
        session = SimSession.acceptor(
            args.sender_comp_id or "EXEC",
            args.target_comp_id or "CLIENT",
            args.begin_string or "FIX.4.4",
            default_appl_ver_id=args.default_appl_ver_id,
            fill=_fill_spec(args, FillSpec()),
            faults=template.copy(),
            reset_on_logon=args.reset_on_logon,
        )
        return Simulator(
            [session],
            port=args.port,
            accept_any_comp_id=args.accept_any_comp_id,
            fill=_fill_spec(args, FillSpec()),
            faults=template,
            required_heartbeat=args.heartbeat,
            symbols=symbols,
            reference_price=args.reference_price,
            tick_size=args.tick_size,
            cancel_on_disconnect=args.cancel_on_disconnect,
            **common,
        )
    settings = load_simulator_settings(config)
    for s in settings.sessions:
        s.fill = _fill_spec(args, s.fill)
        _apply_faults(args, s.faults)
        if args.reset_on_logon:
            s.settings.config.reset_on_logon = True
    kwargs: dict[str, Any] = dict(common)
    kwargs["port"] = args.port
    if args.accept_any_comp_id:
        kwargs["accept_any_comp_id"] = True
    if args.heartbeat is not None:
        kwargs["required_heartbeat"] = args.heartbeat
    if symbols is not None:
        kwargs["symbols"] = symbols
    if args.reference_price is not None:
        kwargs["reference_price"] = args.reference_price
    if args.tick_size is not None:
        kwargs["tick_size"] = args.tick_size
    if args.cancel_on_disconnect:
        kwargs["cancel_on_disconnect"] = True
    kwargs["fill"] = _fill_spec(args, FillSpec())
    kwargs["faults"] = template
    return Simulator.from_settings(settings, **kwargs)


def _run_simulator(args: argparse.Namespace, config: Path | None) -> int:
    from ..transport.loop import run as run_loop

    try:
        sim = _build_simulator(args, config)
    except (ConfigError, ValueError) as exc:
        _say(str(exc))
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        _on_signals(stop.set)
        try:
            await sim.start()
        except ConfigError as exc:
            _say(str(exc))
            return 2
        hosts = ", ".join(sorted({h for h, _ in sim.addresses}))
        _say(
            f"listening on {hosts} port(s) {sim.ports}, {len(sim.sessions)} session(s); "
            "Ctrl-C to stop"
        )
        for s in sim.sessions:
            _say(f"  {s.session_id}: {_describe(sim, s.session_id)}")
        if sim.accept_any_comp_id:
            _say(f"  any other CompID pair: fill {sim.default_fill.describe()}")
        await stop.wait()
        _say("stopping")
        await sim.stop()
        for line in sim.summary_lines():
            _say(line)
        return 0

    try:
        return run_loop(main())
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


def _describe(sim: Any, session_id: Any) -> str:
    text = f"fill {sim.fill_for(session_id).describe()}"
    faults = sim.faults(session_id)
    if faults.active:
        on = [
            f"{f.name}={getattr(faults, f.name)}"
            for f in dataclasses.fields(faults)
            if getattr(faults, f.name) != f.default and f.name != "refuse_text"
        ]
        text += ", faults " + " ".join(on)
    return text


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Unix
            pass


# -- a profile's own application -------------------------------------------------------------


def _run_profile(args: argparse.Namespace, path: Path, spec: ProfileSpec) -> int:
    from ..settings import load_settings
    from ..transport.loop import run as run_loop

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        _say(str(exc))
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
    try:
        engine = Engine.from_settings(
            changed, spec.application(), acceptor_options=spec.acceptor_options
        )
    except ConfigError as exc:
        _say(str(exc))
        return 2

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []
        _on_signals(lambda: stopping.append(loop.create_task(engine.stop())))
        await engine.start()
        ports = sorted({a.port for a in engine.acceptors})
        _say(f"profile {path.stem}, {len(changed)} session(s), port(s) {ports}")
        await engine.serve_forever()

    run_loop(main())
    return 0
