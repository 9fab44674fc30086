"""chiron: verified chain-of-thought data (MICS), MMRP construction and curriculum SFT for medical VLMs."""

__version__ = "0.1.0"
