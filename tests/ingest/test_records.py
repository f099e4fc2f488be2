"""Which traceback frames are the application's own code."""

from __future__ import annotations

import pytest

from service.ingest.records import Frame


@pytest.mark.parametrize(
    ("path", "mine"),
    [
        ("/opt/render/project/src/app/api/auth.py", True),
        ("/app/server/ui/routes.py", True),
        (
            "/opt/render/project/src/.venv/lib/python3.11/site-packages/sqlalchemy/engine/base.py",
            False,
        ),
        ("/usr/local/lib/python3.11/asyncio/runners.py", False),
        ("<string>", False),
        ("<frozen importlib._bootstrap>", False),
    ],
)
def test_application_frames(path: str, mine: bool) -> None:
    assert Frame(file=path, line=1, function="f").is_application is mine
