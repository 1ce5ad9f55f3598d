from django.urls import path

from sessions.consumers import InterviewConsumer

websocket_urlpatterns = [path("ws/interviews/", InterviewConsumer.as_asgi())]
