"""Styles as the catalog: examples, sampling defaults, adapter hash, source, revision and usage;
``messages.strength`` renamed ``lora_scale`` (the one name of the adapter scale).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COUNTERS = ("revision", "generations", "prompt_tokens", "completion_tokens")


def upgrade() -> None:
    with op.batch_alter_table("styles") as batch:
        batch.add_column(sa.Column("examples", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("defaults", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("adapter_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="manifest"))
        batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
        for name in _COUNTERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="1" if name == "revision" else "0"))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_styles_style_source"), sa.text("source IN ('manifest', 'api')"))
        batch.alter_column("adapter_path", existing_type=sa.String(1024), nullable=True)
        batch.alter_column("rank", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("base_model_sha256", existing_type=sa.String(64), nullable=True)
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("strength", new_column_name="lora_scale", existing_type=sa.Float())


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("lora_scale", new_column_name="strength", existing_type=sa.Float())
    op.execute("UPDATE styles SET adapter_path = '' WHERE adapter_path IS NULL")
    op.execute("UPDATE styles SET rank = 0 WHERE rank IS NULL")
    op.execute("UPDATE styles SET base_model_sha256 = '' WHERE base_model_sha256 IS NULL")
    with op.batch_alter_table("styles") as batch:
        batch.alter_column("base_model_sha256", existing_type=sa.String(64), nullable=False)
        batch.alter_column("rank", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("adapter_path", existing_type=sa.String(1024), nullable=False)
        batch.drop_constraint(op.f("ck_styles_style_source"), type_="check")
        for name in ("last_used_at", *reversed(_COUNTERS), "content_sha256", "source", "adapter_sha256",
                     "defaults", "examples"):
            batch.drop_column(name)
