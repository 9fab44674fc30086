"""Per-stage curriculum data mix (paper Table 4): plan from config, seeded draws, trainer exports."""

from chiron.data_mix.draw import build_mix, build_stage, draw
from chiron.data_mix.export import internvl_row, mix_manifest, sharegpt_row, write_mix
from chiron.data_mix.plan import FORMATS, STAGE_NAMES, MixPlan, paper_table, plan_from_config, scale_count

__all__ = ["FORMATS", "STAGE_NAMES", "MixPlan", "build_mix", "build_stage", "draw", "internvl_row",
           "mix_manifest", "paper_table", "plan_from_config", "scale_count", "sharegpt_row", "write_mix"]
