"""`python -m emulator [--host H] [--port P]`: moto's server with our extensions, in this process."""
import argparse
import os
import signal
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int,
                        default=int(os.environ.get("EMULATOR_PORT") or os.environ.get("MOTO_PORT") or 5000))
    args = parser.parse_args(argv)
    # Read by moto at import: AttachRolePolicy of an AWS managed policy needs them loaded; moto
    # also builds its URLs from MOTO_PORT.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ["MOTO_PORT"] = str(args.port)
    from werkzeug.serving import run_simple

    from .app import create_app
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, create_app(), threaded=True)


if __name__ == "__main__":
    main()
