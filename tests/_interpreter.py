"""One way for tests to start Python processes, commands and virtualenvs.

Every test that starts a child process (a ``kgrag`` command, a server, a notebook kernel,
a README program, a fresh virtualenv for the wheel) finds its interpreter and packages
here, so the suite behaves the same whether it runs in the machine's own Python, a
virtualenv (``python -m venv``), a uv-made environment or conda:

- :data:`PYTHON` is the interpreter running the tests (``sys.executable``), never a
  ``python`` looked up on ``PATH`` (which may be another environment's);
- :func:`child_env` puts that interpreter's ``bin`` first on ``PATH`` so console scripts
  (``kgrag``, ``uvicorn``) and kernels resolve to the same environment;
- :func:`make_venv` makes a fresh virtualenv that sees this environment's installed
  packages through a ``.pth`` file naming its site directories explicitly.
  ``--system-site-packages`` is not enough: from inside a virtualenv it exposes the
  *base* interpreter's packages, not the outer virtualenv's (the fault that made the
  wheel test fail in a virtualenv).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

PYTHON = sys.executable
BIN_DIR = Path(sysconfig.get_path("scripts"))
REPO = Path(__file__).resolve().parent.parent


def site_dirs() -> list[str]:
    """The site-packages directories this interpreter imports from, in ``sys.path`` order.

    The checkout itself (an editable install's path entry) is left out, so a child
    environment that uses these sees kgrag only where it was installed into the child.
    """
    out: list[str] = []
    for entry in sys.path:
        p = Path(entry)
        if p.name in ("site-packages", "dist-packages") and p.is_dir() and entry not in out:
            out.append(entry)
    return out


def child_env(
    base: dict[str, str] | None = None, *, drop: tuple[str, ...] = (), **extra: str
) -> dict[str, str]:
    """An environment for a child process of this test environment.

    Args:
        base: the environment to start from (default: ``os.environ``).
        drop: prefixes of variable names to leave out (e.g. ``("KGRAG_",)``).
        **extra: variables to set.

    Returns:
        The environment, with this interpreter's scripts directory first on ``PATH``.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not (drop and k.startswith(drop))}
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != str(BIN_DIR)]
    env["PATH"] = os.pathsep.join([str(BIN_DIR), *rest])
    env.update(extra)
    return env


def make_venv(path: Path, env: dict[str, str] | None = None) -> Path:
    """A fresh virtualenv at ``path`` that sees this environment's installed packages.

    Packages installed into the new virtualenv come first (its own site-packages is
    earlier on ``sys.path`` than the ``.pth`` entries).

    Args:
        path: where to make it (must not exist).
        env: the environment to run ``venv`` with (default: :func:`child_env`).

    Returns:
        The new virtualenv's ``python``.
    """
    env = env or child_env()
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(path)], check=True, env=env)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    Path(purelib, "_outer_environment.pth").write_text("\n".join(site_dirs()) + "\n", encoding="utf-8")
    return python
