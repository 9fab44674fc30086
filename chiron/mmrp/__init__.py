"""MMRP construction (paper App. A): Part 1 text QA, Part 2 image-text alignment, Part 3 complex VQA."""
