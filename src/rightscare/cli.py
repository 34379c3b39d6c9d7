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
    "seed-calendar": "seed_calendar",
    "generate-keys": "generate_keys",
    "rotate-field-key": "rotate_field_key",
    "rotate-index-key": "rotate_index_key",
    "audit-verify": "audit_verify",
    "audit-seal": "audit_seal",
    "bench-data": "bench_data",
}

USAGE = """usage: rightscare COMMAND [options]

  up               migrate, load the demo data once, then run the web server and the worker
  serve            run the web server (gunicorn; --dev for Django's development server)
  worker           run the task worker and the scheduler of periodic jobs
  migrate          create or upgrade the database
  demo             load the demo data (once; prints the demo logins)
  createadmin      create a system administrator
  check            check the configuration (keys, database, worker); non-zero on failure
  import-regions   import regions from a CSV file
  export-regions   write the regions as CSV
  seed-calendar    enter the public holidays and 调休 days the chinese_calendar package knows (safe to repeat)
  generate-keys    print new secret, field, index and audit keys (--write DIR: into files, mode 0600)
  rotate-field-key re-encrypt the protected fields with the first key of RIGHTSCARE_FIELD_KEY
  rotate-index-key recompute the blind indexes with the first key of RIGHTSCARE_INDEX_KEY
  audit-seal       seal the audit entries written since the last seal (the worker does it every minute)
  audit-verify     check the audit chain and its anchors; non-zero when it is broken
  bench-data       fill an empty database with synthetic data for benchmarks (--cases N; never in production)
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


def _use_key_files() -> None:
    """Create the keys the environment lacks once, in the data directory (mode 0600), and point ``*_FILE`` at them.

    Runs before Django's settings are loaded; the web server and the worker started
    afterwards inherit the variables. A key set in the environment always wins.
    """
    from rightscare.core.keyfiles import data_dir, ensure_key_files

    for variable, path in ensure_key_files(data_dir(os.environ), os.environ).items():
        os.environ[f"{variable}_FILE"] = str(path)


def _up(args: list[str]) -> int:
    """Everything ``make run`` needs: set up once, then run the web server and the worker until Ctrl-C."""
    _use_key_files()
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
