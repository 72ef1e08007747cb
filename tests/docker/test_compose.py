"""Structural checks of the compose deployment in docker/ (no Docker engine needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from include.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
INFRA = {"postgres", "redis"}
REQUIRED = INFRA | {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
DEFAULT = re.compile(r"\$\{\w+:-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common_env(compose: dict) -> dict:
    return compose["x-airflow-common"]["environment"]


def airflow(services: dict) -> dict:
    return {name: svc for name, svc in services.items() if name not in INFRA}


def depends_on(svc: dict) -> dict:
    deps = svc.get("depends_on", {})
    return {target: {} for target in deps} if isinstance(deps, list) else deps


def test_required_services_exist(services):
    assert services.keys() >= REQUIRED


def test_airflow_services_share_image_build_and_environment(compose, services, common_env):
    common = compose["x-airflow-common"]
    assert common["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    for name, svc in airflow(services).items():
        assert (svc["image"], svc["build"]) == (common["image"], common["build"]), name
        assert common_env.items() <= svc["environment"].items(), name


@pytest.mark.parametrize(("name", "command"), sorted(COMMANDS.items()))
def test_component_commands(services, name, command):
    assert services[name]["command"] == command


def shared_settings() -> dict[str, str]:
    """docker/airflow.env: the Airflow settings compose and scripts/deploy.sh both use."""
    lines = (ln.strip() for ln in (DOCKER / "airflow.env").read_text().splitlines())
    return dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))


def test_shared_settings_are_read_by_every_airflow_service_and_not_repeated(compose, services, common_env):
    shared = shared_settings()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert shared["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert shared["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "true"
    assert compose["x-airflow-common"]["env_file"] == ["airflow.env"]
    for name, svc in airflow(services).items():
        assert svc["env_file"] == ["airflow.env"], name
        assert shared.keys().isdisjoint(svc["environment"]), name  # one place for each setting


def test_the_deployment_script_exports_the_same_settings(tmp_path: Path):
    """scripts/deploy.sh (no containers) gives its components every shared setting unchanged."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEP_", "DEPLOY_"))}
    env["DEPLOY_HOME"] = str(tmp_path / "deploy")
    out = subprocess.run(
        [str(ROOT / "scripts" / "deploy.sh"), "print-env"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    printed = dict(ln.split("=", 1) for ln in out.stdout.splitlines() if "=" in ln)
    assert {k: printed.get(k, "").lower() for k in shared_settings()} == {
        k: v.lower() for k, v in shared_settings().items()
    }
    assert not any("SECRET" in k for k in printed)


def test_the_celery_executor_loads_with_the_pinned_packages():
    """The executor the shared settings name imports with the pinned celery and provider."""
    code = "from airflow.executors.executor_loader import ExecutorLoader; print(ExecutorLoader.get_default_executor())"
    env = {**os.environ, "AIRFLOW__CORE__EXECUTOR": shared_settings()["AIRFLOW__CORE__EXECUTOR"]}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "CeleryExecutor" in out.stdout, out.stderr[-2000:]


def test_core_settings(common_env):
    assert common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert urlsplit(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    assert common_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert urlsplit(common_env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert common_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager")
    # Scheduler signs task tokens, API server checks them: both need one non-random secret.
    assert DEFAULT.fullmatch(common_env["AIRFLOW__API_AUTH__JWT_SECRET"]).group(1)


def test_project_settings_are_valid(common_env):
    assert common_env["HEP_CONDOR_COLLECTOR"] == "${HEP_CONDOR_COLLECTOR:-}"
    assert common_env["HEP_CONDOR_SCHEDD"] == "${HEP_CONDOR_SCHEDD:-}"
    env = {k: DEFAULT.sub(r"\1", str(v)) for k, v in common_env.items()}
    settings = load_settings(env)
    assert (str(settings.data_root), str(settings.output_root)) == ("/data/hep/input", "/data/hep/output")
    assert (settings.default_backend, settings.condor_collector) == ("local", "")


def test_data_and_output_on_one_shared_named_volume(compose, services, common_env):
    roots = [Path(common_env["HEP_DATA_ROOT"]), Path(common_env["HEP_OUTPUT_ROOT"])]
    for name, svc in airflow(services).items():
        mounts = [v.split(":") for v in svc["volumes"]]
        shared = [src for src, dst, *_ in mounts if all(Path(dst) in (r, *r.parents) for r in roots)]
        assert len(shared) == 1 and shared[0] in compose["volumes"], name


def test_execution_api_url_points_at_apiserver(services, common_env):
    url = urlsplit(common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (url.scheme, url.hostname, url.path) == ("http", "airflow-apiserver", "/execution/")
    container_ports = {str(p).rsplit(":", 1)[-1] for p in services["airflow-apiserver"]["ports"]}
    assert str(url.port) in container_ports


def test_apiserver_publishes_8080(services):
    assert "8080:8080" in services["airflow-apiserver"]["ports"]
    assert services["airflow-apiserver"]["healthcheck"]["test"][-1].endswith(":8080/api/v2/version")


def test_depends_on_targets_and_conditions(services):
    for name, svc in services.items():
        for target, spec in depends_on(svc).items():
            assert target in services, f"{name} -> {target}"
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], f"{name} -> {target}"
    for name in COMMANDS:
        deps = depends_on(services[name])
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert {deps[s]["condition"] for s in INFRA} == {"service_healthy"}, name


def test_healthchecks(services):
    for name in INFRA | COMMANDS.keys():
        assert "healthcheck" in services[name], name
    for name, svc in services.items():
        if "healthcheck" in svc:
            test = svc["healthcheck"]["test"]
            assert test and (isinstance(test, str) or test[0] in {"CMD", "CMD-SHELL"}), name


def test_init_migrates_db_and_creates_admin(services):
    env = services["airflow-init"]["environment"]
    assert (env["_AIRFLOW_DB_MIGRATE"], env["_AIRFLOW_WWW_USER_CREATE"]) == ("true", "true")
    assert "/entrypoint airflow version" in services["airflow-init"]["command"][-1]


def test_named_volumes_are_declared(compose, services):
    used = {
        str(v).split(":")[0]
        for svc in services.values()
        for v in svc.get("volumes", [])
        if not str(v).startswith(("/", ".", "~", "$"))
    }
    assert used and used <= set(compose["volumes"])


# --- Dockerfile -------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out, buf = [], ""
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        word, _, args = buf.strip().partition(" ")
        out.append((word.upper(), " ".join(args.split())))
        buf = ""
    return out


def test_dockerfile_base_image():
    assert instructions()[0] == ("FROM", "apache/airflow:3.3.2-python3.11")


def test_dockerfile_installs_pinned_requirements_and_package_as_airflow():
    user, copied, installs = "root", set(), []
    for word, args in instructions():
        if word == "USER":
            user = args
        elif word == "COPY":
            copied |= {s.rstrip("/") for s in args.split()[:-1] if not s.startswith("--")}
        elif word == "RUN" and "pip install" in args:
            installs.append((args, user, set(copied)))
    reqs = [i for i in installs if re.search(r"-r requirements\.txt .*-c constraints-3\.11\.txt", i[0])]
    pkg = [i for i in installs if re.search(r"pip install [^&;]*--no-deps [^&;]*\.(\s|$)", i[0])]
    assert len(reqs) == 1 and {"requirements.txt", "constraints-3.11.txt"} <= reqs[0][2]
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("readme")
    assert len(pkg) == 1 and {"pyproject.toml", "include", *([readme] if readme else [])} <= pkg[0][2]
    assert {u for _, u, _ in installs} == {"airflow"}
    assert [a for w, a in instructions() if w == "USER"][-1] == "airflow"


def test_dockerfile_bakes_dags_and_plugins():
    env = dict(a.split("=", 1) for w, a in instructions() if w == "ENV")
    assert env["AIRFLOW_HOME"] == "/opt/airflow"
    copies = {
        (parts[-2].rstrip("/"), parts[-1].replace("${AIRFLOW_HOME}", env["AIRFLOW_HOME"]).rstrip("/"))
        for w, a in instructions()
        if w == "COPY"
        for parts in [a.split()]
    }
    assert {("dags", "/opt/airflow/dags"), ("plugins", "/opt/airflow/plugins")} <= copies


def test_dockerignore_keeps_local_state_out_but_not_sources():
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", ".airflow"} <= ignored
    assert ignored.isdisjoint({"include", "dags", "plugins", "pyproject.toml", "README.md", "requirements.txt"})


def _requirements(path: Path) -> list[Requirement]:
    lines = (ln.split(" #", 1)[0].strip() for ln in path.read_text().splitlines())
    return [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_requirements_are_pinned_in_constraints(name: str):
    pins = {
        canonicalize_name(r.name): next(iter(r.specifier)).version
        for r in _requirements(ROOT / "constraints-3.11.txt")
        if len(r.specifier) == 1 and next(iter(r.specifier)).operator in ("==", "===")
    }
    wanted = _requirements(ROOT / name)
    assert [r.name for r in wanted if canonicalize_name(r.name) not in pins] == []
    assert [str(r) for r in wanted if not r.specifier.contains(pins[canonicalize_name(r.name)], True)] == []


def test_the_image_gets_no_test_tools():
    """The Dockerfile installs requirements.txt only, and that lists none of the test tools."""
    runtime = {canonicalize_name(r.name) for r in _requirements(ROOT / "requirements.txt")}
    tools = {canonicalize_name(r.name) for r in _requirements(ROOT / "requirements-test.txt")}
    assert {"pytest", "ruff", "selenium", "root"} <= tools
    assert runtime & tools == set()
    assert "requirements-test" not in (ROOT / "docker" / "Dockerfile").read_text()
