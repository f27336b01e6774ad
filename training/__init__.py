"""The style training pipeline: corpora, datasets, LoRA training and evaluation (not needed to serve)."""
