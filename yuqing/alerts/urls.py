from django.urls import path

from yuqing.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:pk>/close/", views.close, name="close"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/test/", views.rule_test, name="rule_test"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("channels/", views.channel_list, name="channel_list"),
    path("channels/new/", views.channel_create, name="channel_create"),
    path("channels/<int:pk>/", views.channel_detail, name="channel_detail"),
    path("channels/<int:pk>/log/", views.channel_log, name="channel_log"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("channels/<int:pk>/preview/", views.channel_preview, name="channel_preview"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/<slug:kind>/<int:level>/", views.template_edit, name="template_edit"),
    path("templates/<slug:kind>/<int:level>/reset/", views.template_reset, name="template_reset"),
    path("people/", views.subscriptions, name="subscriptions"),
    path("people/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("policy/", views.policy, name="policy"),
    path("me/", views.my_settings, name="my_settings"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
]
