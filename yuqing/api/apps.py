from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "yuqing.api"
    label = "api"
    verbose_name = "API"
