"""Meta partner access: the agency's Business ID and temporary access on link requests.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('link_requests') as batch:
        batch.add_column(sa.Column('business_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('access_days', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('access_ends_at', sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_index('ix_link_requests_status_access_end', 'link_requests',
                    ['status', 'access_ends_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_link_requests_status_access_end', table_name='link_requests')
    with op.batch_alter_table('link_requests') as batch:
        batch.drop_column('access_ends_at')
        batch.drop_column('access_days')
        batch.drop_column('business_id')
