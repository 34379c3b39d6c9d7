"""The API contract is committed: a change to it shows up in review as a snapshot diff.

To accept an intended change: ``RIGHTSCARE_UPDATE_SNAPSHOTS=1 pytest tests/test_openapi_snapshot.py``.
"""

import json
import os
from pathlib import Path

from rightscare.api import api

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi-v1.json"


def test_openapi_document_matches_snapshot(client, db):
    served = client.get("/api/v1/openapi.json").json()
    assert served == json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1")))
    if os.environ.get("RIGHTSCARE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(served, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    assert served == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
