"""Generating the installation's four keys and keeping them in files readable only by their owner.

Used by ``rightscare generate-keys --write DIR`` and by ``rightscare up`` (the demo),
which runs *before* Django's settings are loaded: nothing here may touch them.

| variable                  | file         | what it protects                                     |
|---------------------------|--------------|------------------------------------------------------|
| ``RIGHTSCARE_SECRET_KEY`` | ``secret_key`` | sessions, signed values, API-token digests          |
| ``RIGHTSCARE_FIELD_KEY``  | ``field.key``  | encrypted fields (phones, ID numbers, addresses)    |
| ``RIGHTSCARE_INDEX_KEY``  | ``index.key``  | blind indexes (exact lookup of encrypted fields)    |
| ``RIGHTSCARE_AUDIT_KEY``  | ``audit.key``  | the HMAC of the audit chain's anchors               |
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path


def new_secret_key() -> str:
    """A Django secret key: 50 random bytes, URL-safe (about 67 characters)."""
    return secrets.token_urlsafe(50)


def new_ring_key(key_id: str | None = None) -> str:
    """A field- or index-key entry: ``key-id:base64`` of 32 random bytes (see ``core.crypto``)."""
    key_id = key_id or secrets.token_hex(4)
    if not key_id.isalnum():
        raise ValueError("a key id is letters and digits only")
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


def new_audit_key() -> str:
    """An audit key: 32 random bytes in URL-safe base64 (the format ``audit.keys`` reads)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


#: Variable → (file name in the key directory, generator), in the order they are printed.
KEYS: dict[str, tuple[str, Callable[[], str]]] = {
    "RIGHTSCARE_SECRET_KEY": ("secret_key", new_secret_key),
    "RIGHTSCARE_FIELD_KEY": ("field.key", new_ring_key),
    "RIGHTSCARE_INDEX_KEY": ("index.key", new_ring_key),
    "RIGHTSCARE_AUDIT_KEY": ("audit.key", new_audit_key),
}

#: Files an older demo kept a key in; adopted rather than replaced, so that nothing they protect is lost.
LEGACY_FILES = {"RIGHTSCARE_AUDIT_KEY": "demo-audit-key"}


def data_dir(environ: Mapping[str, str]) -> Path:
    """``RIGHTSCARE_DATA_DIR`` (or the file it names via ``_FILE``), else ``./var``: as the settings resolve it."""
    file_name = environ.get("RIGHTSCARE_DATA_DIR_FILE")
    if file_name:
        return Path(Path(file_name).read_text(encoding="utf-8").strip()).resolve()
    return Path(environ.get("RIGHTSCARE_DATA_DIR", str(Path.cwd() / "var"))).resolve()


def write_key_file(path: Path, value: str) -> bool:
    """Create ``path`` with ``value`` and mode 0600; False (and nothing written) when it exists already."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    # The umask may have taken bits away, never added them; make the mode exact anyway.
    os.chmod(path, 0o600)
    return True


def ensure_key_files(directory: Path, environ: Mapping[str, str]) -> dict[str, Path]:
    """Create, once, a key file for every key the environment does not set; return ``{VARIABLE: path}``.

    A variable counts as set when ``NAME`` or ``NAME_FILE`` is. An existing file is
    kept as it is (a key is generated only once: regenerating the field key would
    make the encrypted data unreadable).
    """
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for variable, (file_name, generate) in KEYS.items():
        if environ.get(variable) or environ.get(f"{variable}_FILE"):
            continue
        path = directory / file_name
        if not path.exists():
            legacy = directory / LEGACY_FILES[variable] if variable in LEGACY_FILES else None
            value = legacy.read_text(encoding="utf-8").strip() if legacy is not None and legacy.is_file() else ""
            write_key_file(path, value or generate())
        files[variable] = path
    return files
