"""The test settings, for a worker process that must run the observability
tests' tasks (tests.support.observed)."""

from oms.test_settings import *  # noqa: F403
from oms.test_settings import PROCRASTINATE_IMPORT_PATHS

PROCRASTINATE_IMPORT_PATHS = [*PROCRASTINATE_IMPORT_PATHS, "tests.support.observed"]
