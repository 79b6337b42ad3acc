"""Every domain's ORM models, imported so that `Base.metadata` is complete (Alembic, tests)."""

from app.advisory.stored import StoredRecommendation  # noqa: F401
from app.artifacts.models import Artifact  # noqa: F401
from app.cases.models import Case
from app.core.idempotency import IdempotencyRecord  # noqa: F401
from app.datasets.models import DatasetVersion  # noqa: F401
from app.db import Base
from app.evaluation.models import EvalExample, EvalRun, GateDecision  # noqa: F401
from app.fixes.models import Fix, FixEvent  # noqa: F401
from app.jobs.models import Job, JobEvent  # noqa: F401
from app.projects.models import Project
from app.registry.models import AliasEvent, ModelVersion, RegisteredModel  # noqa: F401
from app.teams.models import ApiKey, Team

__all__ = ["ApiKey", "Base", "Case", "Project", "Team"]
