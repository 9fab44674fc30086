"""Model FLOPs of a LoRA training step, for MFU (model FLOPs utilisation).

Counted as model work, not hardware work: gradient checkpointing's recomputed forward is left out
(it would make "hardware" FLOPs utilisation). Per text token, with N_frozen frozen and N_train
trainable language-model weights: forward 2N, backward 2N for the input gradients of every layer,
plus 2*N_train for the trainable weights' gradients (frozen weights get none). Attention's two
matmuls add 4*L*d*S forward and twice that backward (PaLM's accounting, no causal discount).
The frozen vision tower runs forward only: 2*N_vision per image patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FlopsModel:
    lm_frozen: int
    lm_trainable: int
    layers: int
    hidden: int
    vision_params: int
    patches_per_tile: int          # InternVL: image patches the vision tower sees per 4-D tile

    def batch(self, input_ids: Any, attention_mask: Any, pixel_values: Any = None) -> float:
        seq = attention_mask.sum(dim=1).double()
        tokens = float(seq.sum())
        per_token = 4 * self.lm_frozen + 6 * self.lm_trainable
        attention = 12 * self.layers * self.hidden * float((seq * seq).sum())
        vision = 0.0
        if pixel_values is not None and pixel_values.dim() == 4:
            vision = 2 * self.vision_params * self.patches_per_tile * pixel_values.shape[0]
        return per_token * tokens + attention + vision


def flops_model(model: Any) -> FlopsModel:
    """Geometry read off a (PEFT-wrapped) transformers vision-language model."""
    config = model.config
    text = getattr(config, "text_config", config)
    lm_frozen = lm_train = vision = 0
    for name, param in model.named_parameters():
        if "vision" in name or "visual" in name:
            vision += param.numel()
        elif "embed_tokens" in name:
            continue  # a lookup, not a matmul
        elif param.requires_grad:
            lm_train += param.numel()
        else:
            lm_frozen += param.numel()
    if getattr(text, "tie_word_embeddings", False) or getattr(config, "tie_word_embeddings", False):
        lm_frozen += text.vocab_size * text.hidden_size  # the LM head shares the skipped embedding
    vision_config = getattr(config, "vision_config", None)
    patches = 0
    if vision_config is not None and hasattr(vision_config, "patch_size"):
        size = vision_config.image_size
        size = size[0] if isinstance(size, (list, tuple)) else size
        patch = vision_config.patch_size
        patch = patch[0] if isinstance(patch, (list, tuple)) else patch
        patches = (size // patch) ** 2
    return FlopsModel(lm_frozen, lm_train, text.num_hidden_layers, text.hidden_size, vision, patches)
