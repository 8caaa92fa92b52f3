"""The error of a config key or value (ground floor: imports nothing of the
configs)."""

from keras_pose.errors import UserError


class ConfigError(UserError, ValueError):
    """A config key or value that cannot be used; the message names it."""
