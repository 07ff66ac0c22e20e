from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The API plumbing: error envelope, base view, idempotency (its one model), fields,
    schema."""

    name = "api"
    verbose_name = "fluxa API"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers OpenAPI extensions with drf-spectacular)
