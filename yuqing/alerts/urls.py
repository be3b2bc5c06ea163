from django.urls import path

from yuqing.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.index, name="index"),
]
