from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared kernel: ids, secretbox, modes, money, times and domain errors. It has no
    models; it is an app for its management command (rotate_encryption)."""

    name = "core"
    verbose_name = "fluxa core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core import fastsql  # noqa: F401  (registers the `__any` lookup: fastsql.AnyOf)
        from core.pgtimes import use_compiled_timestamps

        connection_created.connect(use_compiled_timestamps, dispatch_uid="core.pgtimes")
