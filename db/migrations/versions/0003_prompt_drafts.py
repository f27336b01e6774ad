"""Unsent prompts: ``prompt_drafts``, one per writer, so a typed prompt survives a reload or restart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_drafts",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("style", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_prompt_drafts_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_prompt_drafts")),
    )


def downgrade() -> None:
    op.drop_table("prompt_drafts")
