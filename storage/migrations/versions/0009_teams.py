"""Teams: ad accounts, their members with roles, which team each request belongs to, and
one-time invites.

Existing requests are sorted into teams by their ad account name (compared with spaces
collapsed and case folded, as the bot compares them): the person who named it first becomes
its admin, and the others who sent requests for it its operators, so everybody keeps the
right to act on what they sent. People who erased their data (/deleteme) join no team.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ad_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_key', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_key')
    )
    op.create_table('memberships',
    sa.Column('ad_account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ad_account_id'], ['ad_accounts.id'], ),
    sa.PrimaryKeyConstraint('ad_account_id', 'user_id')
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)
    op.create_table('ad_account_requests',
    sa.Column('request_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ad_account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ad_account_id'], ['ad_accounts.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['link_requests.id'], ),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('ad_account_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ad_account_requests_ad_account_id'),
                              ['ad_account_id'], unique=False)
    op.create_table('team_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ad_account_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('invited_by', sa.BigInteger(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_by', sa.BigInteger(), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ad_account_id'], ['ad_accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('team_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_invites_ad_account_id'), ['ad_account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_team_invites_invited_by'), ['invited_by'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_team_invites_used_by'), ['used_by'], unique=False)
    _teams_from_existing_requests()


def _teams_from_existing_requests() -> None:
    conn = op.get_bind()
    requests = sa.table('link_requests', sa.column('id', sa.Integer),
                        sa.column('requester_id', sa.BigInteger),
                        sa.column('ad_account', sa.String),
                        sa.column('created_at', sa.DateTime(timezone=True)))
    users = sa.table('users', sa.column('id', sa.BigInteger),
                     sa.column('deleted_at', sa.DateTime(timezone=True)))
    accounts = sa.table('ad_accounts', sa.column('id', sa.Integer),
                        sa.column('name', sa.String), sa.column('name_key', sa.String),
                        sa.column('version', sa.Integer),
                        sa.column('created_at', sa.DateTime(timezone=True)))
    members = sa.table('memberships', sa.column('ad_account_id', sa.Integer),
                       sa.column('user_id', sa.BigInteger), sa.column('role', sa.String),
                       sa.column('joined_at', sa.DateTime(timezone=True)))
    links = sa.table('ad_account_requests', sa.column('request_id', sa.Integer),
                     sa.column('ad_account_id', sa.Integer))
    erased = {row[0] for row in conn.execute(
        sa.select(users.c.id).where(users.c.deleted_at.is_not(None)))}
    rows = conn.execute(sa.select(requests.c.id, requests.c.requester_id,
                                  requests.c.ad_account, requests.c.created_at)
                        .order_by(requests.c.created_at, requests.c.id)).all()
    teams: dict[str, list[tuple[int, int, str, object]]] = {}
    for row in rows:
        teams.setdefault(' '.join(row[2].split()).casefold(), []).append(tuple(row))
    for key, named in teams.items():
        # Times are read and written back through the same column type, as each backend
        # keeps them (naive UTC text on SQLite, timestamptz on PostgreSQL).
        conn.execute(sa.insert(accounts).values(name=named[0][2], name_key=key, version=1,
                                                created_at=named[0][3]))
        account_id = conn.execute(sa.select(accounts.c.id)
                                  .where(accounts.c.name_key == key)).scalar_one()
        conn.execute(sa.insert(links), [{'request_id': r[0], 'ad_account_id': account_id}
                                        for r in named])
        joined: dict[int, object] = {}
        for _, requester_id, _, created_at in named:
            if requester_id not in erased:
                joined.setdefault(requester_id, created_at)
        if joined:
            conn.execute(sa.insert(members), [
                {'ad_account_id': account_id, 'user_id': user_id,
                 'role': 'admin' if n == 0 else 'operator', 'joined_at': at}
                for n, (user_id, at) in enumerate(joined.items())])


def downgrade() -> None:
    with op.batch_alter_table('team_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_invites_used_by'))
        batch_op.drop_index(batch_op.f('ix_team_invites_invited_by'))
        batch_op.drop_index(batch_op.f('ix_team_invites_ad_account_id'))
    op.drop_table('team_invites')
    with op.batch_alter_table('ad_account_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ad_account_requests_ad_account_id'))
    op.drop_table('ad_account_requests')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))
    op.drop_table('memberships')
    op.drop_table('ad_accounts')
