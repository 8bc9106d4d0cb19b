"""Shared pytest fixtures: real services (S3 via moto, the browser) and the owner / member / outsider set."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.accounts",
    "tests.fixtures.browser",
    "tests.fixtures.platform",
]
