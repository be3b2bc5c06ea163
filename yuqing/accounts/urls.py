from django.urls import path

from yuqing.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/verify/", views.otp_verify, name="otp_verify"),
    path("otp/setup/", views.otp_setup, name="otp_setup"),
    path("otp/disable/", views.otp_disable, name="otp_disable"),
    path("password/", views.password_change, name="password_change"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/users/", views.user_list, name="user_list"),
    path("settings/users/new/", views.user_create, name="user_create"),
    path("settings/users/<int:pk>/", views.user_detail, name="user_detail"),
    path("settings/users/<int:pk>/roles/", views.role_add, name="role_add"),
    path(
        "settings/users/<int:pk>/roles/<int:assignment_pk>/remove/",
        views.role_remove,
        name="role_remove",
    ),
    path(
        "settings/users/<int:pk>/password/", views.user_password_reset, name="user_password_reset"
    ),
    path("settings/users/<int:pk>/active/", views.user_active, name="user_active"),
    path("settings/units/", views.unit_list, name="unit_list"),
    path("settings/units/<int:pk>/", views.unit_edit, name="unit_edit"),
    path("settings/units/<int:pk>/delete/", views.unit_delete, name="unit_delete"),
    path("settings/school/", views.school_settings, name="school_settings"),
]
