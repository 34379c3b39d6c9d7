"""The ``rightscare`` console command.

``rightscare serve | worker | migrate | demo | createadmin | check | import-regions | up``
and, for anything else, Django's management commands (``rightscare makemigrations``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

#: Our verbs and the management command each one runs.
COMMANDS = {
    "migrate": "migrate",
    "demo": "load_demo",
    "createadmin": "createadmin",
    "check": "rightscare_check",
    "import-regions": "import_regions",
    "export-regions": "export_regions",
    "worker": "rightscare_worker",
}

USAGE = """usage: rightscare COMMAND [options]

  up               migrate, load the demo data once, then run the web server and the worker
  serve            run the web server (gunicorn; --dev for Django's development server)
  worker           run the task worker
  migrate          create or upgrade the database
  demo             load the demo data (once; prints the demo logins)
  createadmin      create a system administrator
  check            check the configuration (keys, database, worker); non-zero on failure
  import-regions   import regions from a CSV file
  export-regions   write the regions as CSV
  help             this text

Any other Django management command is passed through (e.g. `rightscare shell`).
"""


def _django(argv: Sequence[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightscare.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["rightscare", *argv])


def _serve(args: list[str]) -> None:
    host = os.environ.get("RIGHTSCARE_HOST", "127.0.0.1")
    port = os.environ.get("RIGHTSCARE_PORT", "8000")
    if "--dev" in args:
        args.remove("--dev")
        _django(["runserver", f"{host}:{port}", *args])
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightscare.settings")
    workers = os.environ.get("RIGHTSCARE_WEB_WORKERS", "2")
    command = [sys.executable, "-m", "gunicorn", "rightscare.wsgi", "--bind", f"{host}:{port}", "--workers", workers, "--access-logfile", "-", *args]
    os.execv(sys.executable, command)  # noqa: S606 - replaces this process with gunicorn, no shell


def _up(args: list[str]) -> int:
    """Everything ``make run`` needs: set up once, then run the web server and the worker until Ctrl-C."""
    _django(["migrate", "--no-input", "-v", "0"])
    _django(["collectstatic", "--no-input", "-v", "0"])
    _django(["load_demo", "--if-empty"])
    host = os.environ.get("RIGHTSCARE_HOST", "127.0.0.1")
    port = os.environ.get("RIGHTSCARE_PORT", "8000")
    rightscare = [sys.executable, "-m", "rightscare.cli"]
    children = [subprocess.Popen([*rightscare, "serve", *args]), subprocess.Popen([*rightscare, "worker"])]
    print(f"\nRightsCare is running at http://{host}:{port}/  (Ctrl-C stops it)\n", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    status = 0
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        status = next(child.returncode for child in children if child.returncode is not None) or 1
        print("A RightsCare process stopped; stopping the other.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping RightsCare…", flush=True)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"help", "-h", "--help"}:
        print(USAGE)
        return 0
    verb, rest = args[0], args[1:]
    if verb == "serve":
        _serve(rest)
        return 0
    if verb == "up":
        return _up(rest)
    _django([COMMANDS.get(verb, verb), *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
