"""Loading settings from YAML files and env files."""

from adapters.config.loader import ConfigError, load_settings, settings_from_dict

__all__ = ["ConfigError", "load_settings", "settings_from_dict"]
