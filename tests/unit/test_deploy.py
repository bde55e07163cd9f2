"""compose.yaml and Containerfile are parsed and checked, since no container engine runs here."""
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from reportgen.config import ENVIRONMENT_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
CONTAINERFILE = (ROOT / "Containerfile").read_text()


def containerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage, continuation lines joined: [[(INSTRUCTION, args), …], …]."""
    text = re.sub(r"\\\n\s*", " ", CONTAINERFILE)
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_compose_has_the_services_with_pinned_majors():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "proxy", "worker", "deliveries", "cron"}
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command


def test_only_the_buffering_proxy_is_published_and_workers_can_scale():
    services = COMPOSE["services"]
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert services["proxy"]["ports"] == ["${PORT:-8000}:8000"]
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


def test_emails_and_webhooks_have_a_worker_of_their_own_and_report_workers_never_take_them():
    """A slow webhook receiver may hold the delivery worker, never the workers that render."""
    services = COMPOSE["services"]
    assert services["deliveries"]["command"] == ["flask", "--app", "wsgi", "worker", "--deliveries"]
    assert "--deliveries" not in services["worker"]["command"]
    assert services["deliveries"]["environment"] == services["worker"]["environment"]


def test_compose_runs_rqs_cron_scheduler_with_the_subscriptions_tick_on_the_workers_environment():
    services = COMPOSE["services"]
    assert services["cron"]["command"] == ["rq", "cron", "--url", "redis://redis:6379/0",
                                           "reportgen.subscriptions.cron_config"]
    assert services["cron"]["environment"] == services["worker"]["environment"]
    assert services["cron"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"


def nginx_directives() -> dict[str, str]:
    """``name value`` lines of the template (comments dropped); the last one of a name wins."""
    directives = {}
    for line in NGINX_TEMPLATE.read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip(";")
        if line and not line.endswith("{") and line != "}":
            name, _, value = line.partition(" ")
            directives[name] = value.strip()
    return directives


def test_nginx_buffers_slow_clients_in_front_of_gunicorn_and_the_app_believes_it():
    services = COMPOSE["services"]
    proxy = services["proxy"]
    mount = "./deploy/nginx.conf.template:/etc/nginx/templates/default.conf.template:ro"
    assert proxy["image"].startswith("nginx:") and proxy["volumes"] == [mount]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(proxy["healthcheck"]["test"])
    directives = nginx_directives()
    assert directives["server"] == "web:8000" and directives["proxy_pass"] == "http://reportgen_web"
    assert directives["listen"] == "8000"
    assert directives["proxy_request_buffering"] == "on" and directives["proxy_buffering"] == "on"
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert re.fullmatch(r"\d+s", directives[timeout]), timeout
    # The same limit as the app's, from the same variable the app gets.
    assert directives["client_max_body_size"] == "${MAX_CONTENT_LENGTH}"
    assert proxy["environment"]["MAX_CONTENT_LENGTH"] == COMPOSE["x-app-environment"]["MAX_CONTENT_LENGTH"]
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in NGINX_TEMPLATE.read_text()
    assert services["web"]["environment"]["REPORTGEN_TRUSTED_PROXIES"] == "${REPORTGEN_TRUSTED_PROXIES:-1}"


def test_nginx_gzips_html_csv_and_json_from_gunicorn_but_not_pdfs():
    directives = nginx_directives()
    assert directives["gzip"] == "on" and directives["gzip_proxied"] == "any" and directives["gzip_vary"] == "on"
    types = directives["gzip_types"].split()
    assert {"text/csv", "application/json"} <= set(types)  # text/html is always compressed by nginx
    assert not {"application/pdf", "application/zip"} & set(types)
    assert int(directives["gzip_min_length"]) <= 1024


def test_every_gunicorn_reads_the_buffering_worker_from_gunicorn_conf():
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)
    module, _, name = settings["worker_class"].rpartition(".")
    from gunicorn.workers.gthread import ThreadWorker
    assert issubclass(getattr(importlib.import_module(module), name), ThreadWorker)
    final = containerfile_stages()[-1]
    workdir = next(args for ins, args in final if ins == "WORKDIR")
    copied = [args.split() for ins, args in final if ins == "COPY" and "gunicorn.conf.py" in args.split()]
    assert copied and copied[0][-1] in ("./", workdir, workdir + "/"), "gunicorn reads it from its working directory"


def test_migrations_run_once_before_web_and_workers_start():
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "deliveries"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_health_checks_and_named_volumes():
    services = COMPOSE["services"]
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert set(COMPOSE["volumes"]) == {"pgdata", "redisdata"}
    assert services["postgres"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redisdata:/data"]


def test_app_services_share_settings_the_app_actually_reads():
    services = COMPOSE["services"]
    for name in ("migrate", "web", "worker", "deliveries"):
        environment = services[name]["environment"]
        assert set(environment) <= set(ENVIRONMENT_VARIABLES), name
        assert environment["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["build"]["dockerfile"] == "Containerfile"


def test_only_the_web_service_gets_the_operator_secrets_from_the_host():
    services = COMPOSE["services"]
    web = services["web"]["environment"]
    assert web["REPORTGEN_ADMIN_PASSWORD"] == "${REPORTGEN_ADMIN_PASSWORD:-}"
    assert web["REPORTGEN_API_TOKENS"] == "${REPORTGEN_API_TOKENS:-}"
    assert web["SECRET_KEY"] == services["worker"]["environment"]["SECRET_KEY"]
    for name in ("migrate", "worker", "deliveries"):
        assert "REPORTGEN_ADMIN_PASSWORD" not in services[name]["environment"], name


def test_every_variable_read_in_code_is_listed_and_documented():
    read = set()
    for path in (ROOT / "reportgen").rglob("*.py"):
        read |= set(re.findall(r"""os\.environ(?:\.get)?[\[(]\s*["']([A-Z_]+)["']""", path.read_text()))
    assert read <= set(ENVIRONMENT_VARIABLES), read - set(ENVIRONMENT_VARIABLES)
    readme = (ROOT / "README.md").read_text()
    assert [name for name in ENVIRONMENT_VARIABLES if f"`{name}`" not in readme] == []


def test_compose_commands_exist():
    for args in (["db", "upgrade", "--help"], ["worker", "--help"], ["worker", "--deliveries", "--help"]):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    web = COMPOSE["services"]["web"]["command"]
    assert web[0] == "gunicorn" and web[-1] == "wsgi:app"
    checked = subprocess.run([sys.executable, "-m", "gunicorn", "--check-config", *web[1:]], cwd=ROOT,
                             capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x",
                                                                   "REPORTGEN_INSTANCE_DIR": "/tmp/rg-check"})
    assert checked.returncode == 0, checked.stderr
    module, _, name = web[web.index("--logger-class") + 1].rpartition(".")
    assert isinstance(getattr(importlib.import_module(module), name), type)  # --check-config does not load it


def test_containerfile_builds_deps_first_runs_gunicorn_as_non_root_without_build_tools():
    *build_stages, final = containerfile_stages()
    assert build_stages, "a separate build stage keeps compilers out of the final image"
    assert final[0] == ("FROM", "python:3.11-slim")
    final_text = " ".join(args for _, args in final)
    assert not re.search(r"build-essential|\bgcc\b|\bmake\b", final_text)
    users = [args for instruction, args in final if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    build = build_stages[-1]
    requirements = next(i for i, (ins, args) in enumerate(build) if ins == "COPY" and "requirements.txt" in args)
    install = next(i for i, (ins, args) in enumerate(build) if ins == "RUN" and "pip install" in args)
    assert requirements < install
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final
    cmd = next(args for ins, args in final if ins == "CMD")
    assert json.loads(cmd) == COMPOSE["services"]["web"]["command"], "the image serves as compose's web does"
    assert ("EXPOSE", "8000") in final


def test_containerfile_copies_only_paths_that_exist():
    for stage in containerfile_stages():
        for instruction, args in stage:
            if instruction == "COPY" and not args.startswith("--from"):
                *sources, _ = [word for word in args.split() if not word.startswith("--")]
                for source in sources:
                    assert (ROOT / source).exists(), source
