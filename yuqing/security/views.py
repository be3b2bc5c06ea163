from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.core.permissions import require


@require("security.view")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "security/index.html")
