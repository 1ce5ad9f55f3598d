# Load the Celery app with Django so that @shared_task binds to it (and not to Celery's default
# AMQP app) in every process: daphne enqueues chains too.
from celery_app import app as celery_app

__all__ = ("celery_app",)
