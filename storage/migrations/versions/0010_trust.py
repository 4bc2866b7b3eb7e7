"""Trust (issue 11): verified claims, platform logins, claim history, operator actions and
operator blocks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims') as batch:
        batch.add_column(sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('platform_user_id', sa.String(length=128), nullable=True))
    op.create_table('login_attempts',
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('handle', sa.String(length=64), nullable=False),
    sa.Column('handle_key', sa.String(length=64), nullable=False),
    sa.Column('verifier', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_login_attempts_user_id'), 'login_attempts', ['user_id'],
                    unique=False)
    op.create_table('claim_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('handle', sa.String(length=64), nullable=False),
    sa.Column('handle_key', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_claim_events_handle', 'claim_events', ['platform', 'handle_key'],
                    unique=False)
    op.create_table('operator_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('banned_users',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('banned_by', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('banned_users')
    op.drop_table('operator_actions')
    op.drop_index('ix_claim_events_handle', table_name='claim_events')
    op.drop_table('claim_events')
    op.drop_index(op.f('ix_login_attempts_user_id'), table_name='login_attempts')
    op.drop_table('login_attempts')
    with op.batch_alter_table('claims') as batch:
        batch.drop_column('platform_user_id')
        batch.drop_column('verified_at')
