"""`genzoo lab`: the playground in the browser (genzoo.lab)."""

from __future__ import annotations

import argparse

from genzoo.cli.common import PORT, POSITIVE, add_seed, add_threads
from genzoo.errors import GenzooError
from genzoo.lab import DATASETS, FAMILIES

STEPS, FRAMES = 3000, 100  # --export's defaults


def cmd_lab(args: argparse.Namespace) -> int:
    if args.export:
        from genzoo.cli.common import check_suffix
        from genzoo.lab import export
        from genzoo.lab.session import Session

        check_suffix(args.export, (".html",), "--export")
        session = Session(args.model, args.data, seed=args.seed, threads=args.threads or 1)
        recording = export.record(session, args.steps or STEPS, frames=args.frames or FRAMES)
        path = export.write(recording, args.export)
        print(f"genzoo lab: {export.count(recording)} of {args.model} on {args.data} in {path}")
        return 0
    if args.steps or args.frames:
        raise GenzooError(
            "--steps and --frames set what --export records; a lab in the browser trains until paused"
        )
    from genzoo.lab.server import serve

    serve(
        args.model,
        args.data,
        host=args.host,
        port=args.port,
        seed=args.seed,
        browser=not args.no_browser,
        threads=args.threads or 1,
        save_dir=args.save_dir,
    )
    return 0


# --- the command's arguments -------------------------------------------------------------
def register_lab(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("lab", help="a playground in the browser: models training live on 2-D data")
    s.add_argument("--model", default=FAMILIES[0], choices=FAMILIES, help="the family the page opens with")
    s.add_argument("--data", default=DATASETS[0], choices=DATASETS, help="the 2-D data the page opens with")
    s.add_argument("--port", type=PORT, default=0, help="default: a free port")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default the loopback address; another one is reachable "
        "by others on the network, guarded by the token alone)",
    )
    s.add_argument("--no-browser", action="store_true", help="print the address instead of opening it")
    s.add_argument("--save-dir", default="runs", help="where the page's save button writes run directories")
    s.add_argument(
        "--export",
        metavar="FILE.html",
        help="no server: train --steps steps and write them as one page that replays them without a server",
    )
    s.add_argument("--steps", type=POSITIVE, help=f"--export: training steps to record (default {STEPS})")
    s.add_argument("--frames", type=POSITIVE, help=f"--export: pictures to record (default {FRAMES})")
    add_seed(s)
    add_threads(s)
    s.set_defaults(fn=cmd_lab)
