"""The clock (APScheduler) and the database work queue."""
