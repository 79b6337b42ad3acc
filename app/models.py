"""Every domain's ORM models, imported so that `Base.metadata` is complete (Alembic, tests)."""

from app.cases.models import Case
from app.db import Base
from app.projects.models import Project
from app.teams.models import ApiKey, Team

__all__ = ["ApiKey", "Base", "Case", "Project", "Team"]
