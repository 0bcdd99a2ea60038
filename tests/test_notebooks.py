"""The tutorial notebooks: each runs top to bottom unattended, and none leaks a secret.

Every notebook is executed with nbclient in a fresh kernel of this interpreter, with no
``PUSHER_*`` credentials in the environment (so it starts the local server) and with a
distinctive local secret and master key, which the executed copies (outputs and widget state,
written to tests/.artifacts/notebooks/) must not contain anywhere. The notebooks that need no
demo feed of their own also run with ``PUSHER_*`` credentials for a separate server process,
the path a user with their own app takes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import selectors
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ARTIFACTS = ROOT / "tests" / ".artifacts" / "notebooks"
TIME_SCALE = float(os.environ.get("PUSHER_NB_TEST_TIME_SCALE", "1"))
CELL_TIMEOUT = 60 * TIME_SCALE
KERNEL_NAME = "pusher-nb-test-python"

# Distinctive values, so that finding one in an executed notebook cannot be a coincidence.
SECRET = "nbsecret-" + secrets.token_hex(16)
MASTER_KEY = secrets.token_bytes(32)
MASTER_KEY_BASE64 = base64.b64encode(MASTER_KEY).decode()
ENCRYPTED_CHANNELS = ("private-encrypted-lab-results", "private-encrypted-orders")
# The same for the separate server the from-environment runs use.
ENV_APP_ID, ENV_KEY = "7000007", "envkey-" + secrets.token_hex(4)
ENV_SECRET = "envsecret-" + secrets.token_hex(16)
ENV_MASTER_KEY = secrets.token_bytes(32)
# notebook -> demo feeds its server must run (the feed's own channels, at default rates)
FROM_ENV = {
    "00_quickstart": "",
    "02_private_channels": "",
    "03_encrypted_channels": "",
    "07_production": "crypto",
}

pytestmark = pytest.mark.notebook

durations: dict[str, float] = {}


def forbidden_strings() -> dict[str, str]:
    """What must never appear in an executed notebook: secrets, master keys, shared secrets."""
    found = {"app secret": SECRET, "app secret (from the environment)": ENV_SECRET}
    for origin, master_key in (("local", MASTER_KEY), ("from the environment", ENV_MASTER_KEY)):
        found[f"{origin} master key (base64)"] = base64.b64encode(master_key).decode()
        found[f"{origin} master key (hex)"] = master_key.hex()
        for channel in ENCRYPTED_CHANNELS:
            shared = hashlib.sha256(channel.encode() + master_key).digest()
            found[f"{origin} shared secret of {channel} (base64)"] = base64.b64encode(shared).decode()
            found[f"{origin} shared secret of {channel} (hex)"] = shared.hex()
    return found


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that runs this interpreter (the project's venv), whatever else is installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "pusher_nb tests",
                "language": "python",
            }
        )
    )
    return root


@pytest.fixture(scope="module", autouse=True)
def report_durations(request: pytest.FixtureRequest):
    """Print how long each notebook took, whatever pytest does with captured output."""
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not durations:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("notebook execution times (nbclient, a fresh kernel each):")
        for name, seconds in durations.items():
            reporter.write_line(f"  {name:<40} {seconds:6.1f} s")
        reporter.write_line(f"  {'total':<40} {sum(durations.values()):6.1f} s")


def test_notebooks_exist():
    """The tutorials are all there, numbered from 00."""
    names = [path.stem for path in NOTEBOOKS]
    assert len(names) >= 8, names
    assert names[0].startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_committed_notebook_is_clean(path: Path):
    """A notebook in the repository carries no outputs, execution counts or widget state."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "strip metadata.widgets"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {index} has outputs"
        assert cell.execution_count is None, f"cell {index} has an execution count"
        assert "execution" not in cell.metadata, f"cell {index} has execution timings"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_shape(path: Path):
    """The first code cell starts the local server or connects; the last one stops it."""
    nb = nbformat.read(path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    assert "connect_or_start_local" in code[0]
    assert "server.stop()" in code[-1]
    assert any("assert " in source for source in code[-3:]), "the last cells check the data"
    for source in code:
        assert "asyncio.run(" not in source and "nest_asyncio" not in source
        assert "threading" not in source


def execute(path: Path, label: str, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the notebook, save the executed copy, and check it for errors and secrets."""
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    saved = ARTIFACTS / f"{label}.ipynb"
    started = time.monotonic()
    try:
        client.execute()
    finally:
        durations[label] = time.monotonic() - started
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, saved)
    print(f"{label}: {durations[label]:.1f} s")

    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors
    text = saved.read_text()
    leaked = [what for what, value in forbidden_strings().items() if value in text]
    assert not leaked, f"{saved.name} contains: {', '.join(leaked)}"


def without_pusher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PUSHER_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The notebook runs top to bottom on its own local server; its saved copy holds no secret."""
    without_pusher_env(monkeypatch)
    monkeypatch.setenv("PUSHER_NB_LOCAL_SECRET", SECRET)
    monkeypatch.setenv("PUSHER_NB_LOCAL_MASTER_KEY_BASE64", MASTER_KEY_BASE64)
    execute(path, path.stem, kernel_dir, monkeypatch)


def start_server(feeds: str) -> tuple[subprocess.Popen, int]:
    """A local server in its own process (``python -m pusher_nb.server``); returns it and its port."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "pusher_nb.server", "--port", "0", "--json",
            "--app-id", ENV_APP_ID, "--key", ENV_KEY, "--secret", ENV_SECRET,
            "--master-key", base64.b64encode(ENV_MASTER_KEY).decode(), "--feeds", feeds,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=20 * TIME_SCALE)
    if not ready:
        process.kill()
        raise RuntimeError(f"the server did not start: {process.stderr.read()}")
    info = json.loads(process.stdout.readline())
    return process, int(info["port"])


@pytest.mark.parametrize("name", sorted(FROM_ENV))
def test_notebook_runs_with_credentials_from_env(
    name: str, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """With PUSHER_* set, the notebook uses that app (here a server in another process)."""
    process, port = start_server(FROM_ENV[name])
    try:
        without_pusher_env(monkeypatch)
        for variable, value in {
            "PUSHER_APP_ID": ENV_APP_ID,
            "PUSHER_KEY": ENV_KEY,
            "PUSHER_SECRET": ENV_SECRET,
            "PUSHER_HOST": "127.0.0.1",
            "PUSHER_PORT": str(port),
            "PUSHER_TLS": "false",
            "PUSHER_ENCRYPTION_MASTER_KEY_BASE64": base64.b64encode(ENV_MASTER_KEY).decode(),
        }.items():
            monkeypatch.setenv(variable, value)
        execute(NOTEBOOK_DIR / f"{name}.ipynb", f"{name}.from_env", kernel_dir, monkeypatch)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

def test_binder_installs_the_package_and_its_front_ends():
    """binder/ installs the package from the repository, with every widget front end."""
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    wanted = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
    assert any(line.startswith("-e .") or line.startswith(".") for line in wanted), wanted
    names = {line.split(">")[0].split("=")[0].split("[")[0] for line in wanted}
    assert {"jupyterlab", "ipywidgets", "anywidget", "plotly", "pusher"} <= names
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-3.1") and int(runtime.split(".")[1]) >= 11


async def test_first_cell_helper_starts_the_local_server_with_the_configured_secrets():
    """Without PUSHER_KEY the helper starts a local server with the secret and master key given."""
    from pusher_nb.notebook import LOCAL_APP_ID, connect_or_start_local

    environ = {
        "PUSHER_NB_LOCAL_SECRET": SECRET,
        "PUSHER_NB_LOCAL_MASTER_KEY_BASE64": MASTER_KEY_BASE64,
    }
    new_client, server = await connect_or_start_local(environ=environ)
    try:
        assert server is not None
        assert (server.app_id, server.secret) == (LOCAL_APP_ID, SECRET)
        assert server.app.encryption_master_key_base64 == MASTER_KEY_BASE64
        async with new_client() as client:
            channel = await client.subscribe("private-encrypted-helper")
            assert channel.shared_secret == hashlib.sha256(
                b"private-encrypted-helper" + MASTER_KEY
            ).digest()
    finally:
        await server.stop()


async def test_first_cell_helper_uses_credentials_from_the_environment():
    """With PUSHER_KEY the helper starts nothing and every client comes from Client.from_env."""
    from pusher_nb.notebook import connect_or_start_local

    environ = {"PUSHER_KEY": "k", "PUSHER_HOST": "127.0.0.1", "PUSHER_PORT": "6001",
               "PUSHER_TLS": "false", "PUSHER_APP_ID": "1", "PUSHER_SECRET": "s"}
    new_client, server = await connect_or_start_local(feeds=("crypto",), environ=environ)
    assert server is None
    client = new_client(secret=None)
    assert client.key == "k" and client.server_url.startswith("ws://127.0.0.1:6001/app/k?")
    assert client.state == "initialized"


async def test_wait_until_returns_the_value_or_times_out():
    """wait_until gives the condition's value once truthy, and never waits past its timeout."""
    from pusher_nb.notebook import wait_until

    calls = []
    assert await wait_until(lambda: calls.append(1) or (len(calls) >= 3 and "done"), 5, 0.01) == "done"
    with pytest.raises(TimeoutError):
        await wait_until(lambda: False, timeout=0.1, interval=0.02)
