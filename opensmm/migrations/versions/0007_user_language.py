"""an account's language is the one its owner chose, or none (issue 10: languages)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

``users.language`` exists since 0001 but every account got ``"en"`` whether or not its
owner chose it (``opensmm user create``, staff), so an account made from the command line
opened in English from an Arabic browser. From now on ``""`` means "not chosen": the pages
follow the browser's ``Accept-Language``, then the panel's default language. A language is
stored at sign-up (the page's) and when a logged-in visitor picks one.

The ``"en"`` already stored cannot be told apart from the old default, so it becomes ``""``
too; for an account that did choose English from an English browser nothing changes. The
column keeps its type (no table rebuild on SQLite).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE users SET language = '' WHERE language = 'en'")


def downgrade() -> None:
    op.execute("UPDATE users SET language = 'en' WHERE language = ''")
