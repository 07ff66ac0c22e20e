from django.apps import AppConfig


class FluxaSiteConfig(AppConfig):
    name = "fluxa_site"
    verbose_name = "fluxa"

    def ready(self) -> None:
        from fluxa_site.api import schema  # noqa: F401  (registers OpenAPI extensions)
