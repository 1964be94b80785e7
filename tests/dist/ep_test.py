#!/usr/bin/env python3
"""Expert parallelism (--ep) under mpirun on localhost, as `make test` runs it.

  ep_test.py DSEEK WORKDIR logits   one process vs mpirun -np 2 and -np 3: logits byte for byte
                                    (tiny and small presets, f32, q8_0 and q4_0; an --ep-map)
  ep_test.py DSEEK WORKDIR mismatch ranks with different model files: an error on every rank, no hang
  ep_test.py DSEEK WORKDIR serve    a chat request to `serve --ep` under -np 2, then a killed rank
                                    ends the job; a stopped (hung) rank ends it by --ep-timeout;
                                    SIGTERM to rank 0 stops every rank with exit 0
Each step is bounded in time; only loopback addresses are used.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

TOKENS = "1 5 9 33 17 2 40 8 11 3 26 7"


def mpi_env():
    env = dict(os.environ)
    # Tests run as root in CI and on a 2-core machine: allow both, keep the TCP/shared-memory
    # transports on this host, and let waiting ranks yield their core.
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                "OMPI_MCA_btl": "self,vader,tcp", "OMPI_MCA_btl_tcp_if_include": "lo",
                "OMPI_MCA_oob_tcp_if_include": "lo", "OMPI_MCA_mpi_yield_when_idle": "1",
                "OMPI_MCA_rmaps_base_oversubscribe": "1", "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe"})
    # Under the sanitized build, ranks run without LeakSanitizer: Open MPI's components keep
    # allocations until exit and are dlclose()d by then, so their leak reports have no module
    # to suppress by. ASan's and UBSan's other checks stay on; dseek's own code is leak-checked
    # by the single-process tests.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]))
    return env


def mpirun(n, args, timeout=120, check=True):
    cmd = ["mpirun", "--oversubscribe", "-np", str(n)] + args
    p = subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}\n{p.stderr[-3000:]}")
    return p


def run(args, timeout=120):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}\n{p.stderr[-3000:]}")
    return p


def init_model(dseek, work, preset, dtype, arch="deepseek-v3"):
    # The V3 files keep the plain name: the served model is called after it ("tiny-q8_0").
    stem = f"{preset}-{dtype}" if arch == "deepseek-v3" else f"{arch}-{preset}-{dtype}"
    path = os.path.join(work, stem + ".gguf")
    if not os.path.exists(path):
        run([dseek, "init", "--arch", arch, "--preset", preset, "--dtype", dtype, "--seed", "7", "-o", path])
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_logits(dseek, work):
    cases = [("tiny", "f32"), ("tiny", "q8_0"), ("tiny", "q4_0"), ("small", "f32"), ("small", "q8_0")]
    # DeepSeek-V4: clamped SwiGLU experts and hash-routed layers go through the same exchange.
    cases = [(p, d, "deepseek-v3") for p, d in cases] + [("tiny", "f32", "deepseek-v4")]
    for preset, dtype, arch in cases:
        model = init_model(dseek, work, preset, dtype, arch)
        ref = os.path.join(work, "ref.bin")
        run([dseek, "logits", "-m", model, "--tokens", TOKENS, "-o", ref, "-t", "1"])
        for n in (1, 2, 3):
            out = os.path.join(work, f"ep{n}.bin")
            p = mpirun(n, [dseek, "logits", "-m", model, "--tokens", TOKENS, "-o", out, "-t", "1", "--ep"])
            sent = re.search(r"(\d+) rows to other ranks", p.stderr)
            if n > 1 and (not sent or int(sent.group(1)) == 0):
                sys.exit(f"FAIL: {arch} {preset} {dtype}: -np {n} sent no rows to other ranks:\n{p.stderr}")
            if read(out) != read(ref):
                sys.exit(f"FAIL: {arch} {preset} {dtype}: logits under mpirun -np {n} --ep differ from one process")
        print(f"ok: {arch} {preset} {dtype}: -np 1/2/3 logits identical to one process")
    # An --ep-map that puts every expert of every layer on the last rank (rank 0 holds none).
    model = init_model(dseek, work, "tiny", "q8_0")
    ep_map = os.path.join(work, "all_on_2.map")
    with open(ep_map, "w") as f:
        f.write("# every expert on rank 2\n" + "".join(f"* {e} 2\n" for e in range(8)))
    out = os.path.join(work, "map.bin")
    p = mpirun(3, [dseek, "logits", "-m", model, "--tokens", TOKENS, "-o", out, "-t", "1", "--ep", "--ep-map", ep_map])
    if read(out) != read_ref(dseek, model, work):
        sys.exit("FAIL: logits with --ep-map differ from one process")
    if "rank 0: 0 experts" not in p.stderr or "rank 1: 0 experts" not in p.stderr:
        sys.exit("FAIL: --ep-map did not place every expert on rank 2:\n" + p.stderr)
    print("ok: --ep-map placement, logits identical")


def read_ref(dseek, model, work):
    ref = os.path.join(work, "ref_map.bin")
    run([dseek, "logits", "-m", model, "--tokens", TOKENS, "-o", ref, "-t", "1"])
    return read(ref)


def check_mismatch(dseek, work):
    a, b = init_model(dseek, work, "tiny", "f32"), init_model(dseek, work, "tiny", "q8_0")
    cmd = ["mpirun", "--oversubscribe", "-np", "1", dseek, "logits", "-m", a, "--tokens", TOKENS, "-o",
           os.path.join(work, "x.bin"), "--ep", ":", "-np", "1", dseek, "logits", "-m", b, "--tokens", TOKENS,
           "-o", os.path.join(work, "y.bin"), "--ep"]
    p = subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "different model file" not in p.stderr:
        sys.exit(f"FAIL: mismatched models: exit {p.returncode}\n{p.stderr[-3000:]}")
    print("ok: mismatched model files end the job with an error")
    p = mpirun(2, [dseek, "logits", "-m", a, "--tokens", TOKENS, "-o", os.path.join(work, "z.bin"), "--ep",
                   "--lora", "adapter.gguf"], timeout=60, check=False)
    if p.returncode == 0 or "--lora cannot be combined with --ep" not in p.stderr:
        sys.exit(f"FAIL: --lora with --ep: exit {p.returncode}\n{p.stderr[-2000:]}")
    print("ok: --lora with --ep is refused")


def start_server(dseek, model, extra=()):
    cmd = ["mpirun", "--oversubscribe", "-np", "2", dseek, "serve", "-m", model, "--host", "127.0.0.1",
           "--port", "0", "-t", "1", "--ep"] + list(extra)
    proc = subprocess.Popen(cmd, env=mpi_env(), stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("dseek serve: listening on "):
            return proc, line.split("listening on ")[1].strip()
    proc.kill()
    sys.exit("FAIL: serve --ep did not start")


def chat(url, timeout=60):
    body = json.dumps({"model": "tiny-q8_0", "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]}).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def follower_pid(mpirun_pid, rank=1):
    """A rank's pid: in mpirun's session (started with start_new_session) with OMPI_COMM_WORLD_RANK=rank."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(pid)) == mpirun_pid and f"OMPI_COMM_WORLD_RANK={rank}".encode() in read(f"/proc/{pid}/environ").split(b"\0"):
                return int(pid)
        except OSError:
            continue
    sys.exit(f"FAIL: no rank {rank} process found")


def wait_exit(proc, bound, what):
    t0 = time.time()
    try:
        proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        sys.exit(f"FAIL: {what}: the job still ran {bound} s later")
    err = proc.stderr.read()
    if proc.returncode == 0:
        sys.exit(f"FAIL: {what}: the job exited 0\n{err[-2000:]}")
    print(f"ok: {what}: the job ended in {time.time() - t0:.1f} s (exit {proc.returncode})")
    return err


def check_serve(dseek, work):
    model = init_model(dseek, work, "tiny", "q8_0")
    jobs = []
    try:
        proc, url = start_server(dseek, model)
        jobs.append(proc)
        reply = chat(url)
        if not reply.get("choices") or reply["choices"][0]["message"].get("content") is None:
            sys.exit(f"FAIL: chat reply without content: {reply}")
        print("ok: serve --ep under -np 2 answered a chat request")
        os.kill(follower_pid(proc.pid), signal.SIGKILL)
        wait_exit(proc, 30, "rank 1 killed")
        # A hung rank: stopped, so it neither answers nor dies; rank 0's watchdog ends the job.
        proc, url = start_server(dseek, model, ["--ep-timeout", "3"])
        jobs.append(proc)
        os.kill(follower_pid(proc.pid), signal.SIGSTOP)
        try:
            chat(url, timeout=30)
        except Exception:
            pass
        err = wait_exit(proc, 30, "rank 1 stopped (hung)")
        if "got no answer within 3 s" not in err:
            sys.exit("FAIL: the watchdog's message is missing:\n" + err[-2000:])
        # A graceful stop: SIGTERM to rank 0 stops the server, which tells the others; all exit 0.
        proc, url = start_server(dseek, model)
        jobs.append(proc)
        chat(url)
        os.kill(follower_pid(proc.pid, rank=0), signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sys.exit("FAIL: SIGTERM to rank 0 did not end the job within 30 s")
        if proc.returncode != 0:
            sys.exit(f"FAIL: SIGTERM to rank 0: the job exited {proc.returncode}\n{proc.stderr.read()[-2000:]}")
        print("ok: SIGTERM to rank 0 stops every rank (exit 0)")
    finally:
        for p in jobs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)


def main():
    dseek, work, what = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    {"logits": check_logits, "mismatch": check_mismatch, "serve": check_serve}[what](dseek, work)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
