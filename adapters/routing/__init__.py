"""The shipped difficulty model for the built-in router (params file and its loader)."""

from adapters.routing.params_file import DEFAULT_PARAMS_PATH, load_estimator

__all__ = ["DEFAULT_PARAMS_PATH", "load_estimator"]
