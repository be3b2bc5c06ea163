from django.urls import path

from yuqing.api import views
from yuqing.api.api import api

app_name = "api"
urlpatterns = [
    path("v1/docs/", views.docs, name="docs"),
    path("v1/", api.urls),
]
