"""`cnaps serve`: binds loopback by default, answers /healthz and the page; a taken port is a one-line error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_refuses_a_taken_port(monkeypatch, capsys):
    from agent import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(sys, "argv", ["cnaps", "serve", "--port", str(taken.getsockname()[1])])
        with pytest.raises(SystemExit) as stop:
            cli.main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "--port" in err


def test_serve_runs_on_loopback(tmp_path):
    port = free_port()
    env = {**os.environ, "CNAPS_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "agent.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "cnaps serve did not answer within 90 s"
                time.sleep(0.3)
        assert health.json()["status"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "/static/app.js" in page.text
        if outside := _outside_address():  # bound to loopback only: another interface's address is refused
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://{outside}:{port}/healthz", timeout=2)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert f"http://127.0.0.1:{port}/" in process.stderr.read()


def _outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None when there is none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address
