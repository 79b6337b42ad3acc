"""GPU check: LoRA and QLoRA SFT through the recipes, with tokens/s and peak GPU memory.

On a CUDA machine runs ``lora_sft`` and ``qlora_sft`` for ``--steps`` steps (default 40) on
SmolLM2-135M-Instruct or ``--model`` (a local folder or hub name) and prints, for each,
training tokens/s and ``torch.cuda.max_memory_allocated``. QLoRA needs bitsandbytes (the
``gpu`` extra). Without CUDA it says so and exits with status 2.

    python bench/gpu_check.py [--model PATH] [--steps 40] [--batch 8] [--max-length 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rows(n: int) -> list[dict]:
    filler = "The customer asks about an order that was delayed by the carrier. " * 4
    return [
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}. {filler} What should I do?"},
                {
                    "role": "assistant",
                    "content": f"Ticket {i}: apologise, give the new delivery "
                    f"date, and offer a refund of the shipping fee. {filler}",
                },
            ]
        }
        for i in range(n)
    ]


def count_tokens(model: str, data: list[dict], max_length: int) -> float:
    """Mean tokens per row after the chat template (truncated to max_length)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    lengths = [
        min(len(tokenizer.apply_chat_template(r["messages"], tokenize=True)), max_length)
        for r in data
    ]
    return sum(lengths) / len(lengths)


def measure(name: str, run, config, data: list[dict], tokens_per_row: float) -> dict:
    import torch

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run(config, train_rows=data, eval_rows=[], output_dir=Path(tmp))
        wall = time.perf_counter() - start
    train_s = result.metrics["train_runtime_s"] or wall
    steps = result.metrics["global_step"]
    tokens = steps * config.per_device_train_batch_size * tokens_per_row
    return {
        "recipe": name,
        "steps": int(steps),
        "train_s": train_s,
        "wall_s": wall,
        "tokens_per_s": tokens / train_s,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "train_loss": result.metrics["train_loss"],
    }


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="local folder or hub name")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check needs a CUDA GPU; none is visible on this machine.", file=sys.stderr)
        return 2

    from recipes import lora_sft, qlora_sft
    from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model
    from recipes.errors import RecipeEnvironmentError
    from recipes.lora_sft import LoraSFTConfig
    from recipes.qlora_sft import QLoraSFTConfig

    model = str(resolve_base_model(args.model or DEFAULT_BASE_MODEL))
    data = rows(args.steps * args.batch)
    tokens_per_row = count_tokens(model, data, args.max_length)
    common = dict(
        base_model=model,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch,
        max_length=args.max_length,
        save_steps=10_000,
        logging_steps=10,
    )
    print(
        f"GPU {torch.cuda.get_device_name(0)}, model {args.model or DEFAULT_BASE_MODEL}, "
        f"{args.steps} steps x batch {args.batch}, ~{tokens_per_row:.0f} tokens/row"
    )
    results = [measure("lora_sft", lora_sft.run, LoraSFTConfig(**common), data, tokens_per_row)]
    try:
        results.append(
            measure("qlora_sft", qlora_sft.run, QLoraSFTConfig(**common), data, tokens_per_row)
        )
    except RecipeEnvironmentError as exc:
        print(f"qlora_sft skipped: {exc}")
    for r in results:
        print(
            f"{r['recipe']:10s} steps {r['steps']:4d}  train {r['train_s']:7.1f} s  "
            f"{r['tokens_per_s']:9.0f} tokens/s  peak {r['peak_gib']:6.2f} GiB  "
            f"loss {r['train_loss']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
