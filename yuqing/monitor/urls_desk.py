from django.urls import path

from yuqing.monitor import views

urlpatterns = [
    path("", views.index, name="index"),
]
