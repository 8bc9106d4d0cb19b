"""Switchboard's settings, split by concern. Every value comes from the environment; see .env.example."""

from paas.settings.accounts import *
from paas.settings.api import *
from paas.settings.base import *
from paas.settings.celery import *
from paas.settings.database import *
from paas.settings.redis import *
from paas.settings.security import *
from paas.settings.storage import *
from paas.settings.workers import *
