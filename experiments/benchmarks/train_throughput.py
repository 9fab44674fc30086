"""Training throughput of the curriculum's Lightning path.

    python experiments/benchmarks/train_throughput.py [--samples 384] [--micro-batch 4] [--steps 12]

(--steps: timed steps of the GPU run; the CPU runs time one whole epoch.)

CPU (always): the tiny model trains on the bundled demo stage-3 mix (repeated to --samples) through
the real data module, module and trainer, twice in the same run:
  baseline  micro-batches in plain shuffled order (what a DataLoader with shuffle=True gives),
  ours      the length-grouped batch sampler.
Printed: real (unpadded) tokens/s, samples/s, the share of padding, and ours / baseline.

GPU (when CUDA is available): LoRA (rank 16) on a random-weight model with InternVL3-2B's geometry
(InternViT-300M + a Qwen2.5-1.5B-size language model), bf16, DeepSpeed ZeRO-1, gradient
checkpointing, text-only batches of --gpu-seq tokens. Printed: tokens/s and MFU (model FLOPs as
counted in chiron/train/flops.py over the device's dense bf16 peak from Lightning's table).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import pytorch_lightning as pl
import torch

from chiron.llm.tiny import ensure_tiny_model
from chiron.train.batching import LengthGroupedBatchSampler
from chiron.train.datamodule import StageData
from chiron.train.model import LoraConfig, ModelConfig, add_lora, load_base
from chiron.train.module import LoRAFineTune, OptimConfig
from chiron.utils.paths import package_path


class Timer(pl.Callback):
    """Times optimizer steps after a warm-up and counts real tokens and samples."""

    def __init__(self, warmup: int = 0) -> None:
        self.warmup, self.tokens, self.padded, self.samples, self.start = warmup, 0, 0, 0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.start = time.perf_counter()
        if batch_idx >= self.warmup:
            self.tokens += int(batch["attention_mask"].sum())
            self.padded += batch["attention_mask"].numel()
            self.samples += batch["input_ids"].shape[0]

    def on_train_end(self, trainer, pl_module):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


class ShuffledData(StageData):
    """The same data module with plain shuffled micro-batches: the baseline."""

    def _sampler(self, world_size, rank, skip):
        n = len(self.measured.lengths)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed)).tolist()
        sampler = LengthGroupedBatchSampler(self.measured.lengths, self.micro_batch, world_size, rank, self.seed)
        sampler._order = lambda: order
        return sampler


def repeated_mix(samples: int, folder: str) -> str:
    rows = open(package_path("data/demo/train_mix/stage3.jsonl")).read().splitlines()
    source = os.path.dirname(package_path("data/demo/train_mix/stage3.jsonl"))
    out = os.path.join(folder, "stage3.jsonl")
    with open(out, "w") as f:
        for i in range(samples):
            row = json.loads(rows[i % len(rows)])
            row["id"] = f"{row['id']}#{i}"
            row["images"] = [os.path.join(source, p) for p in row["images"]]
            f.write(json.dumps(row) + "\n")
    return out


def cpu_run(data_cls, path: str, model_dir: str, args, out_dir: str) -> Timer:
    pl.seed_everything(0, verbose=False)
    config = ModelConfig(name="tiny", name_or_path=model_dir, tiny=True, processor_kwargs={"max_patches": 6})
    base, processor = load_base(config)
    model = add_lora(base, config, LoraConfig(), gradient_checkpointing=True)
    data = data_cls(path, processor, 8192, args.micro_batch, 1, out_dir, config.processor_kwargs,
                    num_workers=args.workers, progress=False)
    # The whole epoch is timed: both orders then train on exactly the same samples, and only the
    # padding differs (a partial epoch would compare the length-sorted order's longest batches with
    # average ones). One untimed warm-up step comes first.
    _warm_up(model, data)
    timer = Timer()
    module = LoRAFineTune(model, OptimConfig(), total_steps=data.optimizer_steps(1))
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False, callbacks=[timer])
    trainer.fit(module, datamodule=data)
    return timer


def _warm_up(model, data) -> None:
    batch = next(iter(data.train_dataloader()))
    model.train()
    model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)


def report(name: str, timer: Timer) -> dict:
    row = {"tokens_per_s": timer.tokens / timer.seconds, "samples_per_s": timer.samples / timer.seconds,
           "padding": 1 - timer.tokens / timer.padded}
    print(f"  {name:<9} {row['tokens_per_s']:8.0f} tokens/s  {row['samples_per_s']:6.2f} samples/s  "
          f"padding {row['padding']:.0%}")
    return row


def cpu_benchmark(args) -> None:
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        path = repeated_mix(args.samples, tmp)
        model_dir = ensure_tiny_model(os.path.join(tmp, "tiny"), "internvl", seed=0)
        print(f"CPU, tiny InternVL, demo stage-3 mix x{args.samples}, micro-batch {args.micro_batch}, "
              f"one whole epoch each ({torch.get_num_threads()} threads)")
        base = report("baseline", cpu_run(ShuffledData, path, model_dir, args, os.path.join(tmp, "b")))
        ours = report("ours", cpu_run(StageData, path, model_dir, args, os.path.join(tmp, "o")))
        print(f"  ours / baseline: {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x tokens/s, "
              f"{ours['samples_per_s'] / base['samples_per_s']:.2f}x samples/s")


def internvl3_2b_geometry():
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    config = InternVLConfig(
        vision_config=dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                           image_size=448, patch_size=14),
        text_config=dict(model_type="qwen2", vocab_size=151674, hidden_size=1536, num_hidden_layers=28,
                         num_attention_heads=12, num_key_value_heads=2, intermediate_size=8960,
                         max_position_embeddings=32768, tie_word_embeddings=True),
        image_token_id=151667, image_seq_length=256, downsample_ratio=0.5,
    )
    with torch.device("cuda"):
        return InternVLForConditionalGeneration(config).to(torch.bfloat16)


class RandomTokens(pl.LightningDataModule):
    def __init__(self, seq: int, batches: int, vocab: int) -> None:
        super().__init__()
        self.seq, self.batches, self.vocab = seq, batches, vocab

    def train_dataloader(self):
        ids = torch.randint(0, self.vocab - 100, (self.batches, 1, self.seq))
        return [{"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x} for x in ids]


def gpu_benchmark(args) -> None:
    from lightning_fabric.utilities.throughput import get_available_flops

    from chiron.train.strategy import deepspeed_strategy

    model = internvl3_2b_geometry()
    config = ModelConfig(name="internvl3_2b_random", name_or_path="-", vision_modules=["model.vision_tower"],
                         projector_modules=["model.multi_modal_projector"])
    model = add_lora(model, config, LoraConfig(), gradient_checkpointing=True)
    steps = args.steps + 2
    module = LoRAFineTune(model, OptimConfig(), total_steps=steps)
    timer = Timer(warmup=2)
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=steps, logger=False,
                         strategy=deepspeed_strategy(stage=1, accelerator="gpu", logging_batch_size_per_gpu=1),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False, callbacks=[timer])
    trainer.fit(module, datamodule=RandomTokens(args.gpu_seq, steps, 151674))
    tokens_per_s = timer.tokens / timer.seconds
    flops = module._flops.batch(torch.ones(1, args.gpu_seq), torch.ones(1, args.gpu_seq)) / args.gpu_seq
    peak = get_available_flops(torch.device("cuda"), torch.bfloat16)
    print(f"GPU {torch.cuda.get_device_name()}: InternVL3-2B-size LoRA r16, bf16, ZeRO-1, seq {args.gpu_seq}")
    print(f"  {tokens_per_s:8.0f} tokens/s  MFU {tokens_per_s * flops / peak:.1%} "
          f"(peak {peak / 1e12:.0f} TFLOP/s, {flops / 1e9:.1f} GFLOP/token)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=384)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--gpu-seq", type=int, default=4096)
    args = parser.parse_args()
    cpu_benchmark(args)
    if torch.cuda.is_available():
        gpu_benchmark(args)
    else:
        print("GPU: none available, skipped (LoRA MFU on an InternVL3-2B-size model needs CUDA)")


if __name__ == "__main__":
    main()
