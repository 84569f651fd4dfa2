"""The errors every layer raises: one line naming the culprit, the value and what was expected.

InputError (bad input: retrying cannot help), NetworkError (a server failed after the retries:
a later attempt may succeed) and ConfigError (a config value the schema or a cross-key check
refuses). landslide_sar.runner.run_rule turns each into one `ERROR:` line.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user: the message is one line naming the culprit, value and expectation.
    Rerunning the job cannot change it, so a rule's retries skip it (runner.run_rule)."""


class NetworkError(RuntimeError):
    """A server that could not be reached or kept failing after the configured retries: one line
    naming the URL and the last error. Unlike InputError, a later attempt may succeed."""


class ConfigError(ValueError):
    """A config value the schema does not allow; the message names key, value and what is allowed."""
