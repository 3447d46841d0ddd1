"""Error types shared by every engine layer.

Every user-facing problem carries the file, node id and field it is about, so
the CLI, the GUI problems dock and logs can all point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EngineError",
    "ExpressionError",
    "NodeError",
    "Problem",
    "RunTakenOver",
    "StoreError",
    "WorkflowInvalid",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workflow file or graph (never raised alone)."""

    message: str
    node_id: str | None = None
    field: str | None = None
    file: str | None = None
    severity: str = "error"  # "error" stops a run; "warning" is listed and the run goes on

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, str | None]:
        d = {"node_id": self.node_id, "field": self.field, "message": self.message}
        if not self.is_error:
            d["severity"] = self.severity
        return d

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.node_id:
            where.append(f"node {self.node_id!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ": ".join([", ".join(where)]) if where else ""
        message = self.message if self.is_error else f"{self.severity}: {self.message}"
        return f"{prefix}: {message}" if prefix else message



class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class WorkflowInvalid(EngineError):
    """A workflow file or graph has problems; all of them are listed."""

    def __init__(self, problems: list[Problem], file: str | None = None) -> None:
        self.problems = problems
        self.file = file
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid workflow{f' {file}' if file else ''}:\n{lines}")


class ExpressionError(EngineError):
    """An expression failed to parse, was refused by the sandbox or failed to run."""

    def __init__(
        self,
        message: str,
        *,
        expression: str | None = None,
        node_id: str | None = None,
        field: str | None = None,
        position: int | None = None,
    ) -> None:
        self.message = message
        self.expression = expression
        self.node_id = node_id
        self.field = field
        self.position = position
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.node_id:
            where.append(f"node {self.node_id!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        if self.position is not None:
            where.append(f"position {self.position}")
        prefix = ", ".join(where)
        expr = f" in {{{{ {self.expression} }}}}" if self.expression else ""
        return f"{prefix + ': ' if prefix else ''}{self.message}{expr}"

    def located(self, node_id: str | None, field: str | None) -> ExpressionError:
        """Return a copy that names the node and field (evaluation sites add them)."""
        return ExpressionError(
            self.message,
            expression=self.expression,
            node_id=self.node_id or node_id,
            field=self.field or field,
            position=self.position,
        )


class NodeError(EngineError):
    """A node failed. `retryable` tells the retry policy whether trying again can help."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.error_type = error_type or type(self).__name__


class StoreError(EngineError):
    """The execution store cannot be opened or used (bad file, newer schema, locked...)."""


class RunTakenOver(StoreError):
    """This process no longer owns the run it was executing (another process resumed it,
    or it already finished): it stops at once and writes nothing more."""
