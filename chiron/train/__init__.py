"""Curriculum LoRA fine-tuning of a vision-language model: stage 1 -> 2 -> 3 with Lightning.

model.py loads a checkpoint and wraps it with PEFT LoRA; encoding.py turns a Sample into token ids
with labels on the assistant's tokens only; batching.py groups samples of similar length and can
resume mid-epoch; datamodule.py / module.py are the Lightning pieces; strategy.py makes the
DeepSpeed strategy usable on CPU; rng.py saves and restores every random state with the checkpoints;
trainer.py builds the Trainer and picks the checkpoint to resume from; curriculum.py runs the stages in
order and resumes; job.py is `task=train`.
"""
