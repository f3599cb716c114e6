"""Queue tasks of jobs (registered on app.jobs.queue.app)."""

from __future__ import annotations
