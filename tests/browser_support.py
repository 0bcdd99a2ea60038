"""Plumbing for the browser test: a JupyterLab process kept offline, and Chromium through Playwright."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from support import ROOT, free_port, timeout, unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / ".artifacts"
LOGS = ROOT / "tests" / ".logs"


def chromium_executable() -> str:
    """Debian's Chromium (Playwright's own browsers are not used); skip or fail when missing."""
    path = os.environ.get("PUSHER_NB_CHROMIUM", CHROMIUM)
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium")
        if found is None:
            unavailable("Chromium (/usr/bin/chromium)")
        path = found
    return path


def require_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright")
    return sync_playwright


def require_jupyterlab() -> None:
    for module in ("jupyterlab", "ipykernel", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            unavailable(f"the Python package {module}")


# Settings that keep the page quiet and offline: no news, no update checks, no prompts.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "kernelStatus": {"showOnStatusBar": True, "showProgress": True},
    },
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": "JupyterLab Light"},
}


class JupyterLab:
    """A JupyterLab server on a free port with a random token, a private root dir, no network."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"jupyterlab-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def start(self) -> JupyterLab:
        self.root.mkdir(parents=True, exist_ok=True)
        settings = self.base / "user-settings"
        for rel, values in _USER_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for name in ("config", "runtime", "workspaces"):
            (self.base / name).mkdir(exist_ok=True)
        venv_bin = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            # the kernelspec's "python" is the venv's interpreter, whatever PATH held before
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
            command.append("--allow-root")
        log = open(self.log_path, "wb")  # noqa: SIM115 - the process owns it from here
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self._wait_ready(60)
        return self

    def _wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + timeout(seconds)
        request = urllib.request.Request(
            f"{self.url}/api/status", headers={"Authorization": f"token {self.token}"}
        )
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(request, timeout=1) as response:
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer within {seconds} s:\n{self.log_tail()}")

    def kernelspecs(self) -> dict:
        request = urllib.request.Request(
            f"{self.url}/api/kernelspecs", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout(10)) as response:
            return json.load(response)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: the server shuts its kernels down, then exits
        try:
            process.wait(timeout(15))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_notebook(path: Path, cells: list[str]) -> None:
    """An nbformat 4 notebook of code cells, for the venv's python3 kernel."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{index}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source.strip("\n"),
            }
            for index, source in enumerate(cells)
        ],
    }
    path.write_text(json.dumps(notebook, indent=1))
