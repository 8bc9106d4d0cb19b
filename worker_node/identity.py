"""The worker's identity (its id and token), kept in its data folder so a restart comes back as the same worker."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from worker_node.contract.tokens import hash_token


@dataclass(frozen=True)
class Identity:
    worker_id: str
    worker_token: str
    gateway_url: str

    @property
    def token_hash(self) -> str:
        return hash_token(self.worker_token)


def identity_path(data_dir: Path) -> Path:
    return data_dir / "identity.json"


def load_identity(data_dir: Path, gateway_url: str) -> Identity | None:
    path = identity_path(data_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("gateway_url") != gateway_url:
        return None  # enrolled with another gateway: enroll afresh
    return Identity(worker_id=data["worker_id"], worker_token=data["worker_token"], gateway_url=data["gateway_url"])


def save_identity(data_dir: Path, identity: Identity) -> None:
    path = identity_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # The token is a credential: readable by the worker's user only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(identity.__dict__, out)
    os.replace(tmp, path)
