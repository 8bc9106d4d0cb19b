"""Run by test_sqlite_default.py in processes of their own: threads that each run read-then-write transactions on the
embedded SQLite default, as the gateway's request threads, Celery and beat do at once. Prints the transactions
committed and the threads that failed."""

from __future__ import annotations

import os
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection, transaction  # noqa: E402

from workers_app.models import EnrollmentToken  # noqa: E402

TRANSACTIONS = 30


def main(threads: int) -> None:
    if threads == 0:
        call_command("migrate", verbosity=0)
        EnrollmentToken.objects.create(name="counter", prefix="counter", token_hash="-")
        return
    token = EnrollmentToken.objects.get(prefix="counter")
    done: list[int] = []
    failed: list[str] = []

    def work() -> None:
        try:
            for _ in range(TRANSACTIONS):
                with transaction.atomic():
                    row = EnrollmentToken.objects.get(pk=token.pk)
                    EnrollmentToken.objects.filter(pk=row.pk).update(uses=row.uses + 1)
                done.append(1)
        except OperationalError as error:
            failed.append(str(error))
        finally:
            connection.close()

    running = [threading.Thread(target=work) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    print(len(done), len(failed), failed[:1])


if __name__ == "__main__":
    main(int(sys.argv[1]))
