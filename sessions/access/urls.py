"""Login and logout for everyone (``/accounts/``); the admin's login stays for staff."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html", redirect_authenticated_user=True),
         name="login"),  # fmt: skip
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
