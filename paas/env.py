"""The gateway's typed readers for environment variables (``worker_node/contract/env.py``), raising Django's
``ImproperlyConfigured`` so a bad value stops start-up the way Django reports configuration errors."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from worker_node.contract.env import Env

_env = Env(ImproperlyConfigured)

bad_value = _env.bad_value
env_str = _env.text
env_bool = _env.flag
env_int = _env.whole
env_float = _env.number
env_list = _env.items
env_choice = _env.choice
