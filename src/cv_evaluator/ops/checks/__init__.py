"""The check catalogue; importing this package registers every check."""

from cv_evaluator.ops import backup  # noqa: F401  (registers backup.age)
from cv_evaluator.ops.checks import (  # noqa: F401
    cross,
    dependencies,
    kafka,
    postgres,
    queue,
    service,
    sqlite,
)
