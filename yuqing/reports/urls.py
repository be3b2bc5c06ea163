from django.urls import path

from yuqing.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
]
