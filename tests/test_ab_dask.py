# SPDX-License-Identifier: BSD-3-Clause
"""mrc-coolchic ab --executor dask: same results as local, lost workers, interruption, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coolchic.ab.executors import (
    CPU_RESOURCE,
    GPU_RESOURCE,
    check_workers,
    job_resources,
    software_identity,
)
from coolchic.ab.process import supervised
from coolchic.cli import main
from coolchic.errors import ConfigError

distributed = pytest.importorskip("distributed")

FAST = ["--n_itr", "40", "--preset", "fast", "--dec_cfg", "lop", "--device", "cpu",
        "--threads", "1", "--lmbda", "0.004,0.001", "--b", "mrc:depth=2"]
#: What must not depend on where the jobs ran (times do).
FIGURES = ("bd_rate_percent", "bd_rate_latent_percent", "per_image_bd_rate_percent", "n_images")


@pytest.fixture
def images(one_image_folder):
    return one_image_folder


def _figures(out: Path) -> tuple[dict, dict]:
    summary = json.loads((out / "summary.json").read_text())
    rows = {}
    for path in out.glob("jobs/*/*/*/job.json"):
        record = json.loads(path.read_text())
        rows[path.parent.relative_to(out)] = (record["bitstream_bytes"], record["psnr_rgb"])
    return {k: summary[k] for k in FIGURES}, rows


def test_software_identity_and_mismatched_workers():
    identity = software_identity()
    assert identity.startswith("0.") and "+" in identity
    check_workers({"tcp://a:1": identity, "tcp://b:2": identity}, identity)
    with pytest.raises(ConfigError, match=r"worker tcp://b:2 runs mrc-coolchic 0\.0\.9\+x, this "
                       r"driver .*install the same version on every worker"):
        check_workers({"tcp://a:1": identity, "tcp://b:2": "0.0.9+x"}, identity)


def test_jobs_ask_for_one_cpu_slot_or_a_share_of_a_gpu():
    assert job_resources("cpu", 4) == {CPU_RESOURCE: 1.0}
    assert job_resources("auto", 4) == {CPU_RESOURCE: 1.0}
    assert job_resources("cuda", 4) == {GPU_RESOURCE: 0.25}
    assert job_resources("cuda:1", 1) == {GPU_RESOURCE: 1.0}


def test_a_step_dies_with_the_process_that_started_it(tmp_path):
    """What keeps a killed worker's encode from writing on after the job moved elsewhere."""
    if not sys.platform.startswith("linux"):
        pytest.skip("prctl(PR_SET_PDEATHSIG) is Linux only")
    pid_file = tmp_path / "child.pid"
    child = "import os, time; open(%r, 'w').write(str(os.getpid())); time.sleep(60)" % str(pid_file)
    peak = str(tmp_path / "peak")
    middle = ("import subprocess, sys; from coolchic.ab.process import supervised; "
              f"subprocess.run(supervised([sys.executable, '-c', {child!r}], {peak!r}))")
    parent = subprocess.Popen([sys.executable, "-c", middle])
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the step outlived the process that started it")
    assert supervised(["x"], tmp_path / "peak")[-1] == "x"


def test_a_local_dask_cluster_gives_the_summary_of_the_local_executor(images, tmp_path, capsys):
    local, cluster = tmp_path / "local", tmp_path / "dask"
    base = ["ab", "--images", str(images), *FAST, "--workers", "2"]
    assert main([*base, "--out", str(local)]) == 0
    assert main([*base, "--out", str(cluster), "--executor", "dask"]) == 0
    err = capsys.readouterr().err
    assert "4 jobs (0 finished earlier, 4 to run), local Dask cluster of 2 workers" in err
    assert "4/4 jobs" in err  # the same progress bar
    assert _figures(cluster) == _figures(local)


def test_a_worker_killed_during_a_job_loses_nothing(images, tmp_path, capsys):
    out = tmp_path / "ab"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  resources={CPU_RESOURCE: 1}, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = {}
        args = ["ab", "--images", str(images), *FAST, "--out", str(out), "--executor", "dask",
                "--scheduler", cluster.scheduler_address]
        sweep = threading.Thread(target=lambda: result.update(code=main(args)))
        sweep.start()
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            started = [d for d in out.glob("jobs/*/*/*") if not (d / "job.json").exists()]
            if busy and started:
                victim = busy[0]
            else:
                time.sleep(0.05)
        assert victim is not None, "no job started"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        sweep.join(timeout=300)
    assert result.get("code") == 0
    records = list(out.glob("jobs/*/*/*/job.json"))
    assert len(records) == 4
    for path in records:  # every record is whole, and its files are those it describes
        record = json.loads(path.read_text())
        assert record["bitstream_bytes"] == (path.parent / "bitstream.cool").stat().st_size
    assert json.loads((out / "summary.json").read_text())["n_images"] == 1


def test_an_interrupted_cluster_sweep_resumes_where_it_stopped(images, tmp_path, capsys):
    out = tmp_path / "ab"
    args = ["ab", "--images", str(images), *FAST, "--out", str(out), "--executor", "dask",
            "--workers", "1"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # Ctrl-C is SIGINT; a shell that ran these tests in the background (&) would have the
    # driver inherit it ignored, so the driver turns it back into KeyboardInterrupt first.
    script = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "from coolchic.cli import main; sys.exit(main(sys.argv[1:]))")
    driver = subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not list(out.glob("jobs/*/*/*/job.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    finished = {p: p.stat().st_mtime_ns for p in out.glob("jobs/*/*/*/job.json")}
    assert re.search(rf"interrupted; \d finished jobs are kept in {re.escape(str(out))}", err), err
    assert 1 <= len(finished) < 4
    assert not (out / "summary.json").exists()
    assert main(args) == 0
    assert f"4 jobs ({len(finished)} finished earlier, {4 - len(finished)} to run)" in (
        capsys.readouterr().err)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert len(list(out.glob("jobs/*/*/*/job.json"))) == 4


def test_a_job_that_fails_twice_is_reported_and_the_others_finish(images, tmp_path, capsys):
    out = tmp_path / "ab"
    args = ["ab", "--images", str(images), *FAST, "--out", str(out), "--executor", "dask",
            "--workers", "2"]
    args[args.index("mrc:depth=2")] = "mrc:depth=99"  # refused by the encoder, not the driver
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and "Exception" not in err, err
    message = err.splitlines()[-1]  # after the progress lines, one line
    assert message.startswith("mrc-coolchic ab: error: ")
    assert "2 job(s) failed twice, the others finished" in message
    assert "mrc_depth" in message
    assert len(list(out.glob("jobs/spatial/*/*/job.json"))) == 2
    assert not list(out.glob("jobs/mrc-depth99/*/*/job.json"))
    assert not (out / "summary.json").exists()
