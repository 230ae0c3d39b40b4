"""The engine's errors. Every message names the op, its scope path and the shapes involved."""


class AutogradError(RuntimeError):
    """Base class of every error the engine raises on purpose."""


class ShapeError(AutogradError, ValueError):
    """Operands whose shapes or indices an op cannot combine."""


class AnomalyError(AutogradError):
    """A NaN or Inf first produced inside ``detect_anomaly()``."""


class GradcheckError(AutogradError):
    """An analytic derivative that disagrees with its reference."""
