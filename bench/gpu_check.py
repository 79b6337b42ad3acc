"""GPU check: LoRA, QLoRA and bare TRL training, Rung's engine and vLLM serving, on one GPU.

On a CUDA machine, with SmolLM2-135M-Instruct or ``--model`` (a local folder or hub name):

* training, ``--steps`` steps (default 40): the ``lora_sft`` and ``qlora_sft`` recipes and the
  same LoRA run written by hand with TRL (``SFTTrainer`` + peft, same precision), each with
  training tokens/s and ``torch.cuda.max_memory_allocated``; QLoRA needs bitsandbytes (the
  ``gpu`` extra);
* serving, ``--prompts`` prompts x ``--new-tokens`` tokens at temperature 0 with the LoRA
  adapter just trained: Rung's batching engine (`recipes.generation`, all prompts as one
  batch) and vLLM's engine (``LLM(enable_lora=True)`` with a ``LoRARequest``, what
  ``rung serve-model --engine vllm`` runs; needs the ``vllm`` extra), with generated tokens/s
  and peak memory (vLLM reserves ``--vllm-memory`` of the GPU for its KV cache up front).

Without CUDA it says so and exits with status 2; a part whose package is missing is reported
as skipped.

    python bench/gpu_check.py [--model PATH] [--steps 40] [--batch 8] [--max-length 512]
        [--prompts 64] [--new-tokens 128] [--vllm-memory 0.5]
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


def measure_bare_trl(config, data: list[dict], tokens_per_row: float) -> dict:
    """The same LoRA run written by hand with TRL (full-sequence loss, same precision)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from recipes.devices import bf16_supported
    from recipes.lora_adapters import lora_config

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    bf16 = bf16_supported()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(config.base_model)
        model = AutoModelForCausalLM.from_pretrained(
            config.base_model, dtype=torch.bfloat16 if bf16 else torch.float32
        )
        args = SFTConfig(
            output_dir=tmp,
            max_steps=config.max_steps,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.per_device_train_batch_size,
            max_length=config.max_length,
            logging_steps=config.logging_steps,
            save_strategy="no",
            report_to="none",
            bf16=bf16,
            gradient_checkpointing=False,
            disable_tqdm=True,
            packing=False,
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(data),
            processing_class=tokenizer,
            peft_config=lora_config(config, model),
        )
        out = trainer.train()
        wall = time.perf_counter() - start
    train_s = float(out.metrics.get("train_runtime", wall))
    steps = trainer.state.global_step
    return {
        "recipe": "bare TRL",
        "steps": int(steps),
        "train_s": train_s,
        "wall_s": wall,
        "tokens_per_s": steps * config.per_device_train_batch_size * tokens_per_row / train_s,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "train_loss": float(out.training_loss),
    }


def serving_prompts(n: int) -> list[list[dict[str, str]]]:
    return [
        [{"role": "user", "content": f"Ticket {i}: my order is late. What should I do?"}]
        for i in range(n)
    ]


def measure_rung_engine(model: str, adapter: Path, prompts: list, new_tokens: int) -> dict:
    """Rung's generation engine on the GPU: every prompt in one left-padded batch."""
    import torch

    from recipes.generation import GenerationEngine, SamplingParams

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    engine = GenerationEngine.load(base=model, adapters={"support": adapter}, device="cuda")
    params = SamplingParams(max_tokens=new_tokens, temperature=0.0)
    requests = [engine.prepare(model="support", messages=m, params=params) for m in prompts]
    engine.generate_batch(requests[:2])  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    outputs = engine.generate_batch(requests)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    tokens = sum(o.completion_tokens for o in outputs)
    peak = torch.cuda.max_memory_allocated() / 2**30
    del engine
    torch.cuda.empty_cache()
    return {"engine": "rung batching", "tokens": tokens, "wall_s": wall, "peak_gib": peak}


def measure_vllm(
    model: str, adapter: Path, prompts: list, new_tokens: int, memory: float
) -> dict | None:
    """vLLM's engine with the adapter as a LoRARequest (what --engine vllm serves)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        print("vllm skipped: not installed (pip install 'rung[vllm]')")
        return None
    import torch
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    llm = LLM(model=model, enable_lora=True, max_lora_rank=64, gpu_memory_utilization=memory)
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=False)
    lora = LoRARequest("support", 1, str(adapter))
    llm.chat(prompts[:2], params, lora_request=lora)  # warm-up
    start = time.perf_counter()
    outputs = llm.chat(prompts, params, lora_request=lora)
    wall = time.perf_counter() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    free, total = torch.cuda.mem_get_info()
    return {
        "engine": "vLLM",
        "tokens": tokens,
        "wall_s": wall,
        "peak_gib": (total - free) / 2**30,  # the process's reservation (KV cache included)
    }


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="local folder or hub name")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--vllm-memory", type=float, default=0.5)
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
    lora = LoraSFTConfig(**common)
    results = [measure("lora_sft", lora_sft.run, lora, data, tokens_per_row)]
    results.append(measure_bare_trl(lora, data, tokens_per_row))
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

    with tempfile.TemporaryDirectory() as tmp:
        small = LoraSFTConfig(**{**common, "max_steps": 2})
        adapter = lora_sft.run(small, train_rows=data, eval_rows=[], output_dir=Path(tmp))
        adapter_dir = adapter.artifact("adapter")
        prompts = serving_prompts(args.prompts)
        served = [measure_rung_engine(model, adapter_dir, prompts, args.new_tokens)]
        try:
            vllm_row = measure_vllm(model, adapter_dir, prompts, args.new_tokens, args.vllm_memory)
        except Exception as exc:  # report, keep the other figures
            print(f"vllm failed: {type(exc).__name__}: {exc}")
            vllm_row = None
        if vllm_row is not None:
            served.append(vllm_row)
    print(f"serving {args.prompts} prompts x {args.new_tokens} new tokens with a LoRA adapter:")
    for r in served:
        print(
            f"{r['engine']:14s} {r['tokens']:6d} tokens  {r['wall_s']:7.2f} s  "
            f"{r['tokens'] / r['wall_s']:9.0f} tokens/s  peak {r['peak_gib']:6.2f} GiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
