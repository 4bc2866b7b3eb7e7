"""Trust (issue 11): a request keeps the strength of its approval or rejection.

`link_requests.strength` is "verified" or "unverified" (how far the decider was known to own
the handle when deciding), or "void" (an unverified approval voided by the verified owner's
takeover); NULL while undecided, and for requests that ended without an owner's decision
(cancelled, expired).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Statuses a request reaches only through an owner's approval or rejection.
_DECIDED = "('authorized', 'rejected', 'unlinked', 'revoked', 'ended')"


def upgrade() -> None:
    with op.batch_alter_table('link_requests') as batch:
        batch.add_column(sa.Column('strength', sa.String(length=16), nullable=True))
    # Existing decisions. What was voided by a takeover is known from the audit trail.
    op.execute(
        "UPDATE link_requests SET strength = 'void' WHERE EXISTS (SELECT 1 FROM audit_events a "
        "WHERE a.request_id = link_requests.id AND a.event = 'void')")
    # Verified when the decider still holds the handle's claim and had proved it by the time
    # of the decision, or when the approval still stands and its giver has since proved the
    # handle (what verifying does to standing approvals from now on). Everything else is
    # unverified: a claim released or taken over since leaves no record of whether it was
    # verified when the decision was made, so those decisions count as unverified.
    op.execute(
        "UPDATE link_requests SET strength = 'verified' WHERE strength IS NULL "
        f"AND status IN {_DECIDED} AND decided_at IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM claims c WHERE c.platform = link_requests.platform "
        "AND c.handle_key = link_requests.handle_key AND c.owner_id = link_requests.owner_id "
        "AND c.verified_at IS NOT NULL AND (c.verified_at <= link_requests.decided_at "
        "OR link_requests.status = 'authorized'))")
    op.execute(
        "UPDATE link_requests SET strength = 'unverified' WHERE strength IS NULL "
        f"AND status IN {_DECIDED} AND decided_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('link_requests') as batch:
        batch.drop_column('strength')
