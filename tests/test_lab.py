"""``cx lab``: JupyterLab starts (as root too), offers the project's kernel and the notebooks.

The test runs the very command ``cx lab`` builds (:func:`cxlib.cli.lab_command`) on a free port
of 127.0.0.1 with a known token, asks the server's REST API, and stops it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from cxlib.cli import lab_command
from cxlib.run.kernel import KERNEL_NAME, ensure_kernel
from cxlib.run.runner import section_notebooks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_cx_lab_serves_the_kernel_and_the_notebooks(tmp_path: Path):
    port, token = _free_port(), secrets.token_hex(16)
    argv = lab_command(["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"], ensure_kernel())
    assert ("--allow-root" in argv) == (os.geteuid() == 0)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with open(tmp_path / "lab.log", "wb") as log:  # the server keeps its own copy of the descriptor
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"jupyter lab exited:\n{(tmp_path / 'lab.log').read_text()[-3000:]}"
            try:
                _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"jupyter lab not ready:\n{(tmp_path / 'lab.log').read_text()[-3000:]}"
                time.sleep(0.5)
        specs = _get(f"{base}/api/kernelspecs", token)
        assert KERNEL_NAME in specs["kernelspecs"]
        assert specs["default"] == KERNEL_NAME
        top = {item["name"] for item in _get(f"{base}/api/contents/", token)["content"]}
        assert "notebooks" in top
        listed = {item["name"] for item in _get(f"{base}/api/contents/notebooks", token)["content"]}
        assert {p.name for p in section_notebooks()} <= listed
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(20)
        except ProcessLookupError:
            server.wait(20)
