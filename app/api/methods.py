"""``OPTIONS`` and 405 answer the real ``Allow`` list of a path: every method of every route at it.

Starlette answers a method that no route at a path serves with 405 and the ``Allow`` list of the
*first* route matching the path, although several routes may share it (``POST /v1/assessments``
and ``GET /v1/assessments`` are two routes, so ``OPTIONS /v1/assessments`` got 405 ``allow: POST``).
Here that 405 is caught (an exception handler for the status, consulted before the class handlers
of app.api.problems), the routes matching the path are asked for their methods, and:

* ``OPTIONS`` (which no route declares) answers 204 with ``Allow``; no key is needed, as for a 404
  of an unknown path: it says nothing a client cannot read in the OpenAPI document;
* any other method answers 405 problem+json with the same ``Allow``.

Nothing runs for a request whose method a route serves: no cost on the other requests.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.routing import iter_route_contexts

from app.api import problems


def allowed(request: Request) -> str:
    """The ``Allow`` value of the request's path: the methods of all routes at it, and OPTIONS.
    FastAPI's own walk over the routes (what its OpenAPI generation uses), included routers too."""
    methods = {"OPTIONS"}
    path = request.scope["path"]
    for route in iter_route_contexts(request.app.router.routes):
        regex, route_methods = getattr(route, "path_regex", None), route.methods
        if regex is not None and route_methods and regex.match(path):
            methods |= route_methods
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        allow = allowed(request)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        return problems.problem_response(405, "method-not-allowed", "Method not allowed",
                                         f"{request.method} is not allowed on {request.url.path}; allowed: {allow}",
                                         headers={"Allow": allow}, instance=request.url.path)

    app.add_exception_handler(405, method_not_allowed)
