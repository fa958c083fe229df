"""Alembic migrations of every hub table, shipped inside the package.

``hub.migrate`` builds the Alembic configuration in code and points it here, so
no ``alembic.ini`` is needed at run time (see docs/decisions/0014-migrations.md).
"""
