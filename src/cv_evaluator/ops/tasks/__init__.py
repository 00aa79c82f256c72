"""The task catalogue; importing this package registers every task."""

from cv_evaluator.ops import backup  # noqa: F401  (registers the backup task)
from cv_evaluator.ops.tasks import capacity, database, logs, retention  # noqa: F401
