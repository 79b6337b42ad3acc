"""`rung serve-model`: an OpenAI-compatible server for a base model and its LoRA adapters."""
