"""docker/Dockerfile and docker/compose.yaml, checked statically (no docker here): they
parse, the image is multi-stage and runs as a non-root user, and every port and
variable they set is one the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kgrag.config import Settings
from kgrag.serve.config import DEFAULT_PORT, ENV_PREFIX, ServeConfig

DOCKER = Path(__file__).resolve().parent.parent / "docker"
KGRAG_SETTINGS = {"KGRAG_" + f.upper() for f in Settings.model_fields}
SERVE_SETTINGS = {ENV_PREFIX + f.upper() for f in ServeConfig.model_fields}
READ_ELSEWHERE = {"KGRAG_NEO4J_USER", "KGRAG_NEO4J_PASSWORD"}  # kgrag/graph/stores.py


def known(name: str) -> bool:
    return name in KGRAG_SETTINGS | SERVE_SETTINGS | READ_ELSEWHERE


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, args = line.partition(" ")
            out.append((instr.upper(), args.strip()))
    return out


def test_dockerfile_is_multi_stage_non_root_and_uses_the_code_s_names() -> None:
    steps = dockerfile()
    assert {i for i, _ in steps} <= {
        "FROM",
        "ARG",
        "ENV",
        "RUN",
        "COPY",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "VOLUME",
        "HEALTHCHECK",
        "CMD",
    }
    stages = [i for i, (instr, _) in enumerate(steps) if instr == "FROM"]
    assert len(stages) >= 2
    final = steps[stages[-1] :]
    users = [args for instr, args in final if instr == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(instr == "COPY" and "--from=build" in args for instr, args in final)
    env: dict[str, str] = {}
    for instr, args in final:
        if instr == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", args))
    for name in env:
        assert name in ("PATH", "PYTHONUNBUFFERED") or known(name), name
    port = env["KGRAG_SERVE_PORT"]
    assert int(port) == DEFAULT_PORT
    assert ("EXPOSE", port) in final
    assert env["KGRAG_SERVE_HOST"] == "0.0.0.0"  # so a key is required: the file below
    assert env["KGRAG_SERVE_API_KEY_FILE"].startswith("/run/secrets/")
    health = next(args for instr, args in final if instr == "HEALTHCHECK")
    assert f":{port}/healthz" in health
    assert final[-1][0] == "CMD" and '"serve"' in final[-1][1]
    # the extras the image installs exist
    extras = re.search(r'pip install "\.\[([\w,]+)\]"', (DOCKER / "Dockerfile").read_text())
    assert extras is not None
    import tomllib

    declared = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(extras.group(1).split(",")) <= set(declared)


def test_compose_wires_neo4j_and_the_sidecar() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"neo4j", "kgrag", "kgrag-build"} <= set(services)
    neo4j, sidecar, build = services["neo4j"], services["kgrag"], services["kgrag-build"]
    user, password = neo4j["environment"]["NEO4J_AUTH"].split("/", 1)
    for svc in (sidecar, build):
        env = svc["environment"]
        assert all(known(k) for k in env), [k for k in env if not known(k)]
        assert env["KGRAG_NEO4J_USER"] == user and env["KGRAG_NEO4J_PASSWORD"] == password
        assert "neo4j" in svc["depends_on"]
    env = sidecar["environment"]
    store = env["KGRAG_SERVE_STORE"]
    assert store == build["command"][build["command"].index("--store") + 1]
    assert re.fullmatch(r"neo4j://neo4j:7687", store)
    assert "127.0.0.1:7687:7687" in neo4j["ports"]
    port = int(env["KGRAG_SERVE_PORT"])
    assert port == DEFAULT_PORT and f"127.0.0.1:{port}:{port}" in sidecar["ports"]
    assert env["KGRAG_SERVE_HOST"] == "0.0.0.0"
    secret = env["KGRAG_SERVE_API_KEY_FILE"].rsplit("/", 1)[1]
    assert secret in sidecar["secrets"] and secret in compose["secrets"]
    assert sidecar["depends_on"]["kgrag-build"]["condition"] == "service_completed_successfully"
    # the same settings validate as the code reads them
    ServeConfig(**{k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)})
