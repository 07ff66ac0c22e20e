from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared kernel: ids, secretbox, modes, money, times and domain errors. It has no
    models; it is an app for its management command (rotate_encryption)."""

    name = "core"
    verbose_name = "fluxa core"

    def ready(self) -> None:
        from core import fastsql  # noqa: F401  (registers the `__any` lookup: fastsql.AnyOf)
