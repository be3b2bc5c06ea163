from django.urls import path

from yuqing.monitor import views

app_name = "monitor"
urlpatterns = [
    path("", views.index, name="index"),
]
