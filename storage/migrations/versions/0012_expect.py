"""PostgreSQL: `linkpilot_expect`, with which one statement carrying several writes fails as a
whole when one of them changed other than the rows it had to.

A unit of work on PostgreSQL holds the writes of an update (the versioned conversation write,
the inbox mark, the owed messages) and sends them at its commit as one statement, each a
data-modifying WITH of it (`storage.raw.combined`), committing on its own: one round trip
instead of BEGIN, one per write, and COMMIT. The conversation write must change exactly one
row (the version it read is still there), and if it does not, nothing of the statement may
stay; this function raises in the statement, which undoes all of it. SQLite needs nothing: its
units of work run each write at once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:00:00
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # SQLSTATE LP001 (storage.raw.EXPECT_SQLSTATE); DETAIL is the part's number.
    op.execute("""
        CREATE FUNCTION linkpilot_expect(got bigint, expected bigint, part integer)
        RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF got <> expected THEN
                RAISE EXCEPTION 'part % of a combined write changed % rows, not %',
                    part, got, expected USING ERRCODE = 'LP001', DETAIL = part::text;
            END IF;
            RETURN got;
        END
        $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION linkpilot_expect(bigint, bigint, integer)")
