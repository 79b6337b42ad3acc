"""artifact records per project (issue 16): no table change

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:20:00

Artifact rows were already one per project and job (``artifacts.project_id``); what crossed
teams was the content store's manifest, written once per digest with the first writer's job id
and served as is. Stored manifests now hold only what the content determines, and the API builds
each project's manifest from its own row (`app.artifacts.service.manifest`). Nothing in the
database changes; the revision keeps the chain 0001..0006 linear.
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
