"""Pictures of the screens, compared with the committed SVGs (pytest --snapshot-update to accept)."""

from __future__ import annotations

import pytest

from .fixtures import demo_app
from .scenes import SCENES


@pytest.mark.parametrize("scene", list(SCENES))
def test_scene(scene, snap_compare, tmp_path):
    size, setup = SCENES[scene]
    assert snap_compare(demo_app(str(tmp_path / "q.db")), terminal_size=size, run_before=setup)
