"""Spark Ads authorization codes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('spark_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('creator_id', sa.BigInteger(), nullable=False),
    sa.Column('video_id', sa.String(length=32), nullable=False),
    sa.Column('video_handle', sa.String(length=64), nullable=True),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_by', sa.BigInteger(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applied_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_spark_codes_status_expires', 'spark_codes', ['status', 'expires_at'], unique=False)
    op.create_index(op.f('ix_spark_codes_applied_by'), 'spark_codes', ['applied_by'], unique=False)
    op.create_index(op.f('ix_spark_codes_creator_id'), 'spark_codes', ['creator_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_spark_codes_creator_id'), table_name='spark_codes')
    op.drop_index(op.f('ix_spark_codes_applied_by'), table_name='spark_codes')
    op.drop_index('ix_spark_codes_status_expires', table_name='spark_codes')
    op.drop_table('spark_codes')
