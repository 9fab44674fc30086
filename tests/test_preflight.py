"""The inputs check (chiron/preflight): each kind of missing input is found from the config alone,
named with its fix, before any model loads; the screen groups them; a fresh checkout resolves."""

import os
import socket
import subprocess
import sys

import pytest
from conftest import ROOT, compose_config

from chiron.main import run_task
from chiron.preflight import Need, NeedsMissing, render, task_needs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _needs(tmp_path, *overrides):
    return task_needs(compose_config([f"paths.output_dir={tmp_path}", *overrides]))


def _text(needs):
    return "\n".join(f"{n.what} | {n.fix} | {n.who}" for n in needs)


def test_the_embedded_default_needs_nothing(tmp_path):
    assert _needs(tmp_path) == []
    assert _needs(tmp_path, "task=search") == []


def test_a_missing_search_input_is_named_before_any_model_loads(tmp_path, monkeypatch):
    import chiron.llm.backends as backends

    def no_models(*args, **kwargs):  # a model load would mean the check came too late
        raise AssertionError("a model was loaded before the inputs check")

    monkeypatch.setattr(backends.BackendPool, "get", no_models)
    cfg = compose_config([f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'run'}", "task=search",
                          f"data.path={tmp_path / 'nope.jsonl'}"])
    with pytest.raises(NeedsMissing) as caught:
        run_task(cfg)
    assert "data.path: no file at" in str(caught.value) and "nope.jsonl" in str(caught.value)
    assert not (tmp_path / "run" / "search").exists()


def test_unset_mandatory_values_are_needs_not_tracebacks(tmp_path):
    text = _text(_needs(tmp_path, "task=build_part1", "corpus=local"))
    assert "corpus.path is not set" in text and "corpus.image_root is not set" in text


def test_a_key_variable_and_a_closed_endpoint_are_named_with_the_model(tmp_path, monkeypatch):
    monkeypatch.delenv("CHIRON_TEST_KEY", raising=False)
    port = _free_port()
    spec = f"{{name:api-mentor,backend:openai,model:m,base_url:'http://127.0.0.1:{port}/v1',api_key_env:CHIRON_TEST_KEY}}"
    needs = _needs(tmp_path, "task=search", f"mentors.models=[{spec}]")
    text = _text(needs)
    assert "environment variable CHIRON_TEST_KEY is not set" in text and "mentor model 'api-mentor'" in text
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in text
    monkeypatch.setenv("CHIRON_TEST_KEY", "x")
    assert "CHIRON_TEST_KEY" not in _text(_needs(tmp_path, "task=search", f"mentors.models=[{spec}]"))


def test_an_open_endpoint_passes(tmp_path, monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        spec = f"{{name:api-mentor,backend:openai,model:m,base_url:'http://127.0.0.1:{port}/v1'}}"
        assert _needs(tmp_path, "task=search", f"mentors.models=[{spec}]") == []


def test_a_missing_benchmark_copy_names_the_variable_and_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("CHIRON_EVAL_ROOT", raising=False)
    text = _text(_needs(tmp_path, "task=eval", "benchmarks=[vqa_rad]"))
    assert "vqa_rad: no local copy at" in text and "eval.roots.vqa_rad" in text and "CHIRON_EVAL_ROOT" in text
    # a copy that exists but lacks a file the loader reads is named too
    (tmp_path / "VQA_RAD").mkdir()
    text = _text(_needs(tmp_path, "task=eval", "benchmarks=[vqa_rad]", f"eval.roots.vqa_rad={tmp_path / 'VQA_RAD'}"))
    assert "vqa_rad: missing" in text


def test_an_uncached_hub_model_offline_is_one_need(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    needs = _needs(tmp_path, "task=train", "train=lora", "model=internvl3_2b")
    assert len(needs) == 1
    assert "OpenGVLab/InternVL3-2B-hf is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in needs[0].what


def test_demo_training_settings_are_refused_on_a_real_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    text = _text(_needs(tmp_path, "task=train", "model=internvl3_2b"))  # train=demo is the default
    assert "train=demo is the tiny demo's training setting, not for model=internvl3_2b" in text
    assert "add train=lora" in text


def test_a_missing_vqa_copy_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CHIRON_VQA_ROOT", raising=False)
    text = _text(_needs(tmp_path, "task=build_mix", "vqa_sets=local", "data_mix=paper",
                        f"mix_inputs.part1={tmp_path}/p1.jsonl"))
    assert "vqa_rad: no folder at" in text and "CHIRON_VQA_ROOT is not set" in text
    assert "mix_inputs.part1: no file at" in text


def test_latest_without_a_run_says_which_task_to_run_first(tmp_path):
    text = _text(_needs(tmp_path, "task=qc_report"))
    assert "no finished run of task=search has search/records.jsonl yet" in text
    assert "run `python run.py task=search` first" in text


def test_training_that_asks_for_gpus_on_a_cpu_machine(tmp_path):
    import torch

    if torch.cuda.device_count() >= 8:
        pytest.skip("this machine has the GPUs")
    text = _text(_needs(tmp_path, "task=train", "gpus_per_job=8"))
    assert "training asks for 8 GPU(s)" in text


def test_the_screen_groups_needs_by_fix_and_models_by_need():
    screen = render([Need("A is not set", "export it", "mentor x"), Need("A is not set", "export it", "judge y"),
                     Need("B is missing", "export it"), Need("C", "other")], footer="try the demo")
    assert screen.splitlines() == [
        "cannot start: 3 things this run needs are missing",
        "  - A is not set (mentor x, judge y)", "  - B is missing", "      fix: export it",
        "  - C", "      fix: other", "", "try the demo"]


def test_preflight_false_skips_the_check(tmp_path):
    from chiron.preflight import check_task

    check_task(compose_config([f"paths.output_dir={tmp_path}", "task=search", "data.path=/nope", "preflight=false"]))


def _run(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIRON_")}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(env, HF_HUB_OFFLINE="1"))


def test_a_user_error_is_a_few_lines_without_a_traceback(tmp_path):
    proc = _run(tmp_path, "task=search", "data.path=/nope")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "data.path: no file at /nope" in proc.stderr + proc.stdout


def test_a_fresh_checkout_resolves(tmp_path):
    proc = _run(tmp_path, "--cfg", "job", "--resolve")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<no-finished-run-yet>" in proc.stdout, proc.stdout[:1500]
