"""The README's examples, run as written against a live server (issue 13's acceptance: "README
examples copied into a test that runs them as written against a live server").

The test reads README.md itself, so the README cannot drift from it. The README keeps to these
rules, and this test holds it to them:

- A ```` ```sh ```` block is what a reader types against ``make run``: each is run here, in README
  order, by ``bash`` with ``set -euo pipefail`` in a directory holding a copy of ``examples/``,
  against the ``make run`` stack (SQLite, embedded Redis, real workers) on a free port. Every
  example reaches the server at ``$BASE``, which the README tells the reader to export once
  (``$ export BASE=http://127.0.0.1:8000``); here it is exported as the live stack's address,
  and no example names the server's address itself. The only change to the code is the webhook
  example's receiver: ``127.0.0.1:9000`` becomes a real receiver's.
- Blocks under one ``##`` heading share a shell: the variables they set carry over (``$task``).
- Commands that set things up (``make run``, ``docker compose``, ``flask …``) are ```` ```console ````
  with ``$ `` prompts; output samples and snippets have their own fences. None of them is run, and
  none holds a ``curl`` command.
- ``# → 202 ACCEPTED`` after a command is the status line its ``curl -i`` answer starts with; a
  block's arrows are its status lines, in order.
- A ```` ```json ```` block right after an ```` ```sh ```` block is its whole output, as JSON; a
  ```` ```text ```` block there without ``…`` is its output exactly (with ``…`` it is abridged).
- What the examples save is what they say: a PDF, a ZIP of documents, a CSV with its header (and a
  byte-order mark for ``?bom=1``). The email reaches the (loopback SMTP) mailbox, the webhook
  reaches the receiver signed, and the server never answers 5xx.

Sections that need configuration run against a second stack started with it: the API tokens of
"Operators" (``TOKEN`` and ``OTHER_TOKEN`` exported, as the README says). Email and webhooks do
not change what the other examples see, so the first stack has them configured for every section.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reportgen.domain.csv_export import STUDENT_HEADER, UNIT_HEADER

from ..support.fakes import WEBHOOK_WORKER_ENV, WebhookReceiver
from ..support.processes import ROOT, make_run_stack, readyz, wait_until

README = ROOT / "README.md"
#: The port the README's examples use, and the one of the webhook example's receiver.
README_PORT, README_RECEIVER_PORT = 8000, 9000
#: What the README tells a reader to set once: the server's address, which every example uses.
BASE_EXPORT = re.compile(r"^\$ export BASE=(\S+)$", re.M)
#: ``##`` sections that run on the stack with API tokens; the rest run on the first one.
TOKEN_SECTIONS = ("Operators",)
TOKEN, OTHER_TOKEN = "readme-example-token-of-the-ci-job", "readme-example-token-of-another-client"
#: Headings (their start) that must each hold at least one ``sh`` example: what the README shows of the API.
COVERED = ("API", "Submit a report", "Several formats at once", "Poll and download", "Retrying a submit safely", "Batches",
           "Cancel or delete", "CSV", "Uploading CSV", "Email", "Webhooks", "Sequence only", "Classes over time", "Operators")
CSV_HEADER = b"student_id,namespace,position,created_time,type,unit,label"
#: The first line of each CSV a README example may save: the event log or a summary table.
CSV_HEADERS = (CSV_HEADER, ",".join(STUDENT_HEADER).encode(), ",".join(UNIT_HEADER).encode())
BOM = b"\xef\xbb\xbf"
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.M | re.S)
ARROW = re.compile(r"#\s*→\s*(\d{3})(?: ([A-Z][A-Z -]*[A-Z]))?")
STATUS_LINE = re.compile(r"^HTTP/[\d.]+ (\d{3})(?: ([^\r\n]*?))?\r?$", re.M)
ACCESS_LINE = re.compile(r'"[A-Z]+ (\S+) HTTP/[\d.]+" (\d{3}) ')


@dataclass
class Block:
    lang: str
    code: str
    section: str     # the ``##`` heading above it
    heading: str     # the nearest heading above it, of any level
    output: tuple[str, str] | None = None   # the (lang, text) of a fence right after it


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    section = heading = ""
    position = 0
    for fence in FENCE.finditer(text):
        between = text[position:fence.start()]
        for title in re.findall(r"^(#{2,4}) (.+)$", between, re.M):
            heading = title[1].replace("`", "")
            if title[0] == "##":
                section = heading
        if blocks and not between.strip():
            blocks[-1].output = (fence.group(1), fence.group(2))
        blocks.append(Block(fence.group(1), fence.group(2), section, heading))
        position = fence.end()
    return blocks


def responses(stdout: str) -> list[tuple[int, str, str]]:
    """The answers ``curl -i`` printed: (status, head, body)."""
    starts = [match.start() for match in STATUS_LINE.finditer(stdout) if match.group(1) != "100"]
    found = []
    for index, start in enumerate(starts):
        answer = stdout[start:starts[index + 1] if index + 1 < len(starts) else len(stdout)]
        head, _, body = answer.replace("\r\n", "\n").partition("\n\n")
        found.append((int(answer[answer.index(" ") + 1:][:3]), head, body.strip()))
    return found


def json_bodies(stdout: str) -> list[dict]:
    return [json.loads(body) for _, _, body in responses(stdout) if body.startswith("{")]


class Stack:
    """A ``make run`` stack whose output is read as it comes (a full pipe would stall it)."""

    def __init__(self, process, port: int):
        self.process, self.port, self.lines, self.ready_at = process, port, [], 0
        threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True).start()

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, "make run stopped:\n" + "".join(self.lines[-40:])
            return (readyz(self.port) or {}).get("status") == "ok"

        wait_until(ready, 120, "make run to be ready")
        self.ready_at = len(self.lines)  # /readyz answers 503 until then

    def server_errors(self) -> list[str]:
        return [line for line in self.lines[self.ready_at:]
                if (match := ACCESS_LINE.search(line)) and match.group(2)[0] == "5"]


def saved_files(directory: Path) -> dict[str, float]:
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir() if path.is_file()}


def check_saved(path: Path, block: Block) -> None:
    """A file an example saved is the document it asked for, not an error answer."""
    content = path.read_bytes()
    where = f"{path.name}, saved by:\n{block.code}"
    if path.suffix == ".pdf":
        assert content.startswith(b"%PDF-"), where
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None, where
            names = archive.namelist()
        assert names and all(re.match(r"\d{4}-.+-[0-9a-f]{8}\.\w+$", name) for name in names), (names, where)
    elif path.suffix == ".csv":
        if "bom=1" in block.code:
            assert content.startswith(BOM), where
        assert content.removeprefix(BOM).splitlines()[0] in CSV_HEADERS, where
    else:
        raise AssertionError(f"an example saved something that is not a report (an error answer?): {where}\n"
                             f"{content[:500]!r}")


def run_block(block: Block, stack: Stack, receiver_port: int, workdir: Path, state: Path,
              env: dict[str, str]) -> subprocess.CompletedProcess:
    code = block.code.replace(f"127.0.0.1:{README_RECEIVER_PORT}", f"127.0.0.1:{receiver_port}")
    names = sorted(set(re.findall(r"^\s*(?:export\s+)?([A-Za-z_]\w*)=", block.code, re.M)))
    script = "\n".join([
        "set -euo pipefail",
        f"[ -f {state} ] && source {state}",
        *([f"trap 'declare -p {' '.join(names)} >> {state} 2>/dev/null || true' EXIT"] if names else []),
        code,
    ])
    before = saved_files(workdir)
    result = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, timeout=120)
    stdout, stderr = (stream.decode("utf-8", "replace") for stream in (result.stdout, result.stderr))
    shown = f"README example ({block.heading}):\n{block.code}\n--- stdout:\n{stdout[-3000:]}\n--- stderr:\n{stderr[-3000:]}"
    assert result.returncode == 0, f"exit status {result.returncode}\n{shown}"

    expected = ARROW.findall(block.code)
    answered = [head.split("\n", 1)[0].split(" ", 1)[1].strip() for _, head, _ in responses(stdout)]
    assert len(answered) == len(expected), f"status lines {answered}, the README says {expected}\n{shown}"
    for (code, reason), line in zip(expected, answered):
        assert line.split(" ", 1)[0] == code and (not reason or line.upper() == f"{code} {reason}"), \
            f"the README says {code} {reason}, the server answered {line}\n{shown}"

    if block.output is not None:
        lang, sample = block.output
        if lang == "json":
            assert json.loads(stdout) == json.loads(sample), shown
        elif lang == "text" and "…" not in sample:
            assert stdout.replace("\r\n", "\n").strip() == sample.strip(), shown  # a CSV's lines end in CRLF

    after = saved_files(workdir)
    for name, stamp in after.items():
        if before.get(name) != stamp:
            check_saved(workdir / name, block)
    return subprocess.CompletedProcess(result.args, result.returncode, stdout, stderr)


def test_readme_fences_say_what_runs():
    """Every curl command a reader would type is in an ``sh`` block (which the test below runs),
    with no placeholder; setup commands are ``console`` transcripts with a prompt on each command."""
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for block in blocks:
        assert block.lang, f"a fence without a language under {block.heading!r}:\n{block.code}"
        if block.lang == "sh":
            assert not re.search(r"…|<task_id>|3f0c", re.sub(r"#.*", "", block.code)), block.code
        else:
            assert not re.search(r"^(\$ )?curl ", block.code, re.M), \
                f"a curl command in a {block.lang} block is not run by the test:\n{block.code}"
        if block.lang == "console":
            commands = [line for line in block.code.splitlines() if line.strip()]
            assert all(line.startswith("$ ") for line in commands), block.code
    covered = {block.heading for block in blocks if block.lang == "sh"}
    missing = [start for start in COVERED if not any(heading.startswith(start) for heading in covered)]
    assert not missing, f"README headings without an sh example: {missing}"


def test_every_example_reaches_the_server_at_base_which_the_readme_says_to_export_once():
    text = README.read_text(encoding="utf-8")
    assert BASE_EXPORT.findall(text) == [f"http://127.0.0.1:{README_PORT}"]
    for block in readme_blocks(text):
        if block.lang == "sh":
            assert not re.search(rf"(127\.0\.0\.1|localhost):{README_PORT}", block.code), block.code
            assert "curl" not in block.code or "$BASE" in block.code, block.code


def test_every_sh_example_in_the_readme_runs_as_written(tmp_path, mailbox):
    box, smtp_port = mailbox
    blocks = [block for block in readme_blocks(README.read_text(encoding="utf-8")) if block.lang == "sh"]
    workdir = tmp_path / "reader"
    shutil.copytree(ROOT / "examples", workdir / "examples")
    base_env = {key: value for key, value in os.environ.items()
                if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    with contextlib.ExitStack() as stacks:
        receiver = stacks.enter_context(WebhookReceiver())
        open_stack = Stack(*stacks.enter_context(make_run_stack(
            tmp_path / "open", REPORTGEN_WORKERS="2", SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port),
            REPORTGEN_MAIL_RETRY_INTERVALS="1,1", **WEBHOOK_WORKER_ENV)))
        token_stack = Stack(*stacks.enter_context(make_run_stack(
            tmp_path / "tokens", REPORTGEN_WORKERS="1", REPORTGEN_API_TOKENS=f"{TOKEN},{OTHER_TOKEN}")))
        open_stack.wait_ready()
        token_stack.wait_ready()

        checked = set()
        for block in blocks:
            tokens = block.section.startswith(TOKEN_SECTIONS)
            stack = token_stack if tokens else open_stack
            env = {**base_env, "BASE": f"http://127.0.0.1:{stack.port}",
                   **({"TOKEN": TOKEN, "OTHER_TOKEN": OTHER_TOKEN} if tokens else {})}
            state = tmp_path / ("shell-" + re.sub(r"\W+", "-", block.section) + ".sh")
            result = run_block(block, stack, receiver.server.server_port, workdir, state, env)
            checked.add(check_what_the_reader_sees(block, result, box, receiver))

        assert checked >= {"idempotent", "several", "cancel", "email", "webhook", "secret", "tokens"}, checked
        for stack in (open_stack, token_stack):
            assert not stack.server_errors(), "the server answered 5xx:\n" + "".join(stack.server_errors())


def check_what_the_reader_sees(block: Block, result, box, receiver) -> str | None:
    """What the README says around an example, beyond its status lines and files: returns what was checked."""
    heading, stdout = block.heading, result.stdout
    if heading.startswith("Retrying a submit safely"):
        first, second = json_bodies(stdout)
        assert first["task_id"] == second["task_id"], stdout
        assert "idempotent-replayed: true" in responses(stdout)[1][1].lower(), stdout
        return "idempotent"
    if heading.startswith("Several formats"):
        [answer] = json_bodies(stdout)
        assert answer["formats"] == ["html", "pdf", "csv"] and len(set(answer["task_ids"])) == 3, stdout
        assert answer["label"] == "Week 3, group B", stdout
        page = answer["status_page_url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/reports/[0-9a-f-]{36}", page), page
        assert f"location: {page}" in responses(stdout)[0][1].lower(), stdout
        return "several"
    if heading.startswith("Cancel or delete"):
        deleted, gone, canceled = responses(stdout)
        assert json.loads(canceled[2])["status"] == "CANCELED", stdout
        assert "deleted" in json.loads(gone[2])["error"] and json.loads(deleted[2])["status"] == "SUCCESS", stdout
        return "cancel"
    if heading.startswith("Email"):
        recipients = {"teacher@school.example", "head@school.example"}
        wait_until(lambda: recipients <= {rcpt for envelope in box.envelopes for rcpt in envelope.rcpt_tos},
                   60, "the report's email to reach both recipients")
        return "email"
    if heading.startswith("Webhooks") and "callback_url" in block.code:
        task_id = json_bodies(stdout)[0]["task_id"]

        def delivered() -> dict | None:
            return next((request for request in receiver.requests if request["path"] == "/hooks/reportgen"
                         and isinstance(request["verified"], dict) and request["verified"]["task_id"] == task_id),
                        None)

        wait_until(delivered, 60, "the signed webhook to reach the receiver")
        assert delivered()["verified"]["status"] == "SUCCESS"
        return "webhook"
    if heading.startswith("Webhooks"):
        secret = stdout.strip()
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32, stdout
        return "secret"
    if block.section.startswith(TOKEN_SECTIONS) and "OTHER_TOKEN" not in block.code:
        unauthorized = responses(stdout)[-1]
        assert 'Bearer realm="reportgen"' in unauthorized[1], stdout
        return "tokens"
    return None
