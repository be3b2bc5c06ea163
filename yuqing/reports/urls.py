from django.urls import path

from yuqing.reports import views, views_dashboard

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("generate/", views.generate, name="generate"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/next-steps/", views.next_steps, name="next_steps"),
    path("<int:pk>/regenerate/", views.regenerate, name="regenerate"),
    path("<int:pk>/download/", views.download, name="download"),
    path("<int:pk>/send/", views.send, name="send"),
    path("channels/", views.channels, name="channels"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:pk>/off/", views.template_deactivate, name="template_deactivate"),
    path("templates/<int:pk>/download/", views.template_download, name="template_download"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/display/", views_dashboard.display, name="display"),
]
