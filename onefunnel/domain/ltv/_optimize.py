"""Maximum likelihood on log-parameters, shared by the lifetime-value models."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from onefunnel.domain.ltv.customers import LtvInputError

FloatArray = NDArray[np.float64]
# The objective (a weighted mean negative log-likelihood) and its gradient, on log-parameters.
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

# Beyond e^±30 a parameter has run off to a boundary: the data does not identify the model.
_LOG_BOUND = 30.0


def maximise(
    objective: Objective, start: FloatArray, model: str, names: Sequence[str]
) -> FloatArray:
    """Minimise `objective` from `start` (log-parameters) by BFGS with the analytic gradient.

    Working on log-parameters keeps every parameter positive without bounds. The objective is a
    *mean* over customers, so the stopping tolerance means the same for a hundred customers or a
    million. Returns the parameters (not their logs); when the likelihood keeps rising towards
    a parameter's edge, the error names the parameters (``names``) that ran to 0 or to ∞.
    """
    result = minimize(
        objective, start, jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 2000}
    )
    theta = np.asarray(result.x, dtype=np.float64)
    if not np.all(np.isfinite(theta)) or np.any(np.abs(theta) > _LOG_BOUND):
        edges = ", ".join(
            f"{name} → {'0' if value < 0 else '∞'}"
            for name, value in zip(names, theta, strict=True)
            if not np.isfinite(value) or abs(value) > _LOG_BOUND
        )
        raise LtvInputError(
            f"{model}: the fit does not converge on this data ({edges}: the likelihood keeps "
            "rising towards the edge, so the data does not identify the model)"
        )
    _, gradient = objective(theta)
    # BFGS often stops on "precision loss" at the optimum of a flat likelihood (a parameter
    # drifting towards a limit the data cannot tell apart); a small gradient is what counts.
    if not np.all(np.isfinite(gradient)) or np.max(np.abs(gradient)) > 1e-4:
        raise LtvInputError(f"{model}: the fit does not converge on this data ({result.message})")
    return np.exp(theta)
