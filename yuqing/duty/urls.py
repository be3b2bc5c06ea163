from django.urls import path

from yuqing.duty import views

app_name = "duty"
urlpatterns = [
    path("", views.index, name="index"),
]
