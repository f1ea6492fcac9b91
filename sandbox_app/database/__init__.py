"""The sandbox's database: Flask-SQLAlchemy on SQLite (a file in the state folder) or PostgreSQL, its models and its setup."""

from .models import OutboxMail, User, db
from .setup import init_database

__all__ = ["OutboxMail", "User", "db", "init_database"]
