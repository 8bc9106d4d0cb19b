"""Error pages: JSON under the API prefixes, the portal's own pages elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static

from paas.api.errors import error_body, is_api_path


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Django answers here for a Host header not in ALLOWED_HOSTS and other requests it refuses before any view.
    if is_api_path(request.path):
        return JsonResponse(
            error_body("bad_request", "The request cannot be served (its Host is not ours?)."), status=400
        )
    return HttpResponse("<h1>Bad Request (400)</h1>", status=400)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(error_body("not_found", f"Nothing at {request.path}."), status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(
            error_body("internal_error", "Something went wrong on our side. It has been logged."), status=500
        )
    # No context processors: whatever broke the request may break them too.
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: with DEBUG off the hashed name exists only after collectstatic.
    return redirect(static("img/logo.svg"), permanent=True)
