"""Jobs: asynchronous work on the PostgreSQL-backed queue (app.jobs.queue), done in chunks by
workers (app.jobs.worker, app.jobs.tasks)."""
